import type { ProgressListener } from '../sources/source.js';
import type { ActionContext } from './context.js';
import { terminalProgress } from './render/progress.js';
import { abortOnSignals } from './signals.js';

/**
 * Runs a backup or restore with a progress line on a terminal's stderr and
 * SIGTERM/SIGINT turned into an abort, both cleaned up however it ends.
 */
export async function runLongOperation(
  context: ActionContext,
  operation: (controls: { signal: AbortSignal; onProgress: ProgressListener }) => Promise<unknown>,
): Promise<number> {
  const progress = terminalProgress(context.stderr);
  const interrupt = abortOnSignals();
  try {
    await operation({ signal: interrupt.signal, onProgress: progress.listener });
  } finally {
    progress.done();
    interrupt.dispose();
  }
  return 0;
}
