import type { ProgressListener } from '../sources/source.js';
import { abortWhenSchedulerGone } from '../util/lifeline.js';
import type { ActionContext } from './context.js';
import { terminalProgress } from './render/progress.js';
import { abortOnSignals } from './signals.js';

/**
 * Runs a backup or restore with a progress line on a terminal's stderr and
 * SIGTERM/SIGINT turned into an abort, both cleaned up however it ends;
 * started by the scheduler, also the scheduler's end.
 */
export async function runLongOperation(
  context: ActionContext,
  what: string,
  operation: (controls: { signal: AbortSignal; onProgress: ProgressListener }) => Promise<unknown>,
): Promise<number> {
  const progress = terminalProgress(context.stderr);
  const interrupt = abortOnSignals();
  const lifeline = abortWhenSchedulerGone();
  const signal = lifeline ? AbortSignal.any([interrupt.signal, lifeline.signal]) : interrupt.signal;
  try {
    await operation({ signal, onProgress: progress.listener });
    // Past the last point it looks at the signal (a backup, once verified, always completes its revision): said, not silent.
    const late = interrupt.received();
    if (late) context.logger.warn(`${late} came too late to stop the ${what}: it finished`);
  } finally {
    progress.done();
    interrupt.dispose();
    lifeline?.dispose();
  }
  return 0;
}
