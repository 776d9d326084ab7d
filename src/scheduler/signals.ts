import type { Logger } from '../util/logger.js';
import { settlesWithin } from '../util/promises.js';
import type { Scheduler } from './scheduler.js';

/**
 * Runs a scheduler as the real process: SIGTERM (or SIGINT) shuts it down
 * in order, SIGHUP reloads the configuration. The handlers are in place
 * before start-up, so an early signal is handled, not fatal; a second
 * SIGTERM while stopping changes nothing.
 */
/** How long a SIGTERM during start-up waits for the start-up (within the 30 s SIGTERM promises). */
const START_UP_WAIT_MS = 25_000;

export async function runUntilTerminated(scheduler: Scheduler, logger: Logger): Promise<void> {
  let started = false;
  let terminate!: (signal: NodeJS.Signals) => void;
  const terminated = new Promise<NodeJS.Signals>((resolve) => (terminate = resolve));
  const onTerminate = (signal: NodeJS.Signals) => terminate(signal);
  const onHangup = () => {
    if (!started) {
      logger.warn('SIGHUP during start-up ignored; send it again once the scheduler runs');
      return;
    }
    logger.info('SIGHUP received: reloading the configuration');
    void scheduler.reload();
  };
  process.on('SIGTERM', onTerminate);
  process.on('SIGINT', onTerminate);
  process.on('SIGHUP', onHangup);
  try {
    const starting = scheduler.start();
    const early = await Promise.race([starting.then(() => null), terminated]);
    // A signal during start-up: let start-up finish, so stop() finds everything it has to stop,
    // but not for longer than SIGTERM promises (a start-up stuck on a hung disk has started no backup).
    if (early && !(await settlesWithin(starting, START_UP_WAIT_MS))) {
      logger.warn(`${early} received during a start-up that did not finish within ${START_UP_WAIT_MS / 1000} s: exiting`);
      return;
    }
    if (early) await starting;
    started = true;
    const signal = early ?? (await terminated);
    logger.info(`${signal} received: shutting down`);
    await scheduler.stop();
  } finally {
    process.off('SIGTERM', onTerminate);
    process.off('SIGINT', onTerminate);
    process.off('SIGHUP', onHangup);
  }
}
