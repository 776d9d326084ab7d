import { restoreJob } from '../../job/restore-job.js';
import type { ActionContext } from '../context.js';
import { runLongOperation } from '../long-operation.js';

export async function restore(context: ActionContext, spec: string | undefined, target: string): Promise<number> {
  return runLongOperation(context, (controls) =>
    restoreJob(context.jobPath, { spec, target, stdout: context.stdout, logger: context.logger, ...controls }),
  );
}
