import { initJob } from '../../job/init-job.js';
import type { ActionContext } from '../context.js';

export async function init(context: ActionContext, type: string, source: string, store?: string): Promise<number> {
  const outcome = await initJob(context.jobPath, type, source, { store });
  if (outcome.storeReason) context.logger.info(outcome.storeReason);
  context.logger.info(`initialized job directory ${outcome.job.path} for ${type} ${source}`);
  return 0;
}
