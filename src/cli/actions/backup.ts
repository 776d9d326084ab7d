import { backupJob } from '../../job/backup-job.js';
import { parseTags } from '../../job/tags.js';
import { systemClock } from '../../util/clock.js';
import type { ActionContext } from '../context.js';
import { terminalProgress } from '../render/progress.js';
import { abortOnSignals } from '../signals.js';

export async function backup(context: ActionContext, tagArgument: string): Promise<number> {
  const tags = parseTags(tagArgument);
  const progress = terminalProgress(context.stderr);
  const interrupt = abortOnSignals();
  try {
    await backupJob(context.jobPath, {
      tags,
      logger: context.logger,
      clock: systemClock,
      signal: interrupt.signal,
      onProgress: progress.listener,
    });
  } finally {
    progress.done();
    interrupt.dispose();
  }
  return 0;
}
