import type { SchedulerView } from '../scheduler/status-model.js';
import type { Logger } from '../util/logger.js';

export interface TelnetShellOptions {
  /** Listen addresses (`telnet-addrs`); unbindable ones are logged and skipped. */
  addresses: string[];
  port: number;
  logger: Logger;
}

export interface TelnetShell {
  /** Addresses actually listening, as `host:port`. */
  readonly listening: string[];
  close(): Promise<void>;
}

/**
 * Placeholder until the telnet shell lands: listens nowhere. The scheduler
 * calls this once at start-up and `close()` on shutdown.
 */
export async function startTelnetShell(_view: SchedulerView, _options: TelnetShellOptions): Promise<TelnetShell> {
  return { listening: [], close: async () => undefined };
}
