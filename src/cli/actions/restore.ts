import { restoreJob } from '../../job/restore-job.js';
import type { ActionContext } from '../context.js';
import { terminalProgress } from '../render/progress.js';
import { abortOnSignals } from '../signals.js';

export async function restore(context: ActionContext, spec: string | undefined, target: string): Promise<number> {
  const progress = terminalProgress(context.stderr);
  const interrupt = abortOnSignals();
  try {
    await restoreJob(context.jobPath, {
      spec,
      target,
      stdout: context.stdout,
      logger: context.logger,
      signal: interrupt.signal,
      onProgress: progress.listener,
    });
  } finally {
    progress.done();
    interrupt.dispose();
  }
  return 0;
}
