import { AbortedError } from '../util/errors.js';

/**
 * Turns SIGTERM/SIGINT into an abort of the running operation, so that a
 * backup removes its incomplete revision before the process exits non-zero.
 */
export function abortOnSignals(signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP']): { signal: AbortSignal; received(): NodeJS.Signals | null; dispose(): void } {
  const controller = new AbortController();
  let received: NodeJS.Signals | null = null;
  const handler = (name: NodeJS.Signals) => {
    received ??= name;
    controller.abort(new AbortedError(`interrupted by ${name}`));
  };
  for (const name of signals) process.on(name, handler);
  return {
    signal: controller.signal,
    received: () => received,
    dispose: () => {
      for (const name of signals) process.off(name, handler);
    },
  };
}
