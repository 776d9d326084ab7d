import { backupJob } from '../../job/backup-job.js';
import { parseTags } from '../../job/tags.js';
import { systemClock } from '../../util/clock.js';
import type { ActionContext } from '../context.js';
import { runLongOperation } from '../long-operation.js';

export async function backup(context: ActionContext, tagArgument: string): Promise<number> {
  const tags = parseTags(tagArgument);
  return runLongOperation(context, 'backup', (controls) =>
    backupJob(context.jobPath, { tags, logger: context.logger, clock: systemClock, ...controls }),
  );
}
