import { restoreJob } from '../../job/restore-job.js';
import { systemClock } from '../../util/clock.js';
import type { ActionContext } from '../context.js';
import { runLongOperation } from '../long-operation.js';

export async function restore(context: ActionContext, spec: string | undefined, target: string, force: boolean): Promise<number> {
  return runLongOperation(context, (controls) =>
    restoreJob(context.jobPath, { spec, target, force, stdout: context.stdout, logger: context.logger, clock: systemClock, ...controls }),
  );
}
