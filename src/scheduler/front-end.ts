import type { Logger } from '../util/logger.js';
import type { SchedulerConfig } from './config.js';
import type { SchedulerControl } from './status-model.js';

/**
 * A way into the running scheduler (the telnet shell, the HTTP server),
 * given to the scheduler by its caller as a plug-in: the scheduler starts
 * them in order after its jobs are set up and closes them in reverse order
 * when it stops, without knowing what they are.
 */
export interface FrontEndPlugin {
  readonly name: string;
  /**
   * Starts listening. A BackyError stops the scheduler's start-up (nothing
   * can be bound); a front-end that is switched off by the configuration
   * returns one whose `listening` is empty.
   */
  start(context: FrontEndContext): Promise<FrontEnd>;
}

export interface FrontEndContext {
  view: SchedulerControl;
  config: SchedulerConfig;
  logger: Logger;
  now: () => Date;
}

export interface FrontEnd {
  /** What listens where, for the start-up line (`telnet shell on 127.0.0.1:6023`); empty when off. */
  readonly listening: string[];
  /**
   * A new configuration (SIGHUP), before it is applied: does the I/O it
   * needs (e.g. reads a token file) and returns what applies it, or throws
   * a BackyError, and the whole reload is refused.
   */
  prepareReload?(config: SchedulerConfig): Promise<() => void>;
  /** Stops listening and ends open sessions; called once. */
  close(): Promise<void>;
}
