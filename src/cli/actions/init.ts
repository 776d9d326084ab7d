import { initJob } from '../../job/init-job.js';
import type { ActionContext } from '../context.js';

export async function init(context: ActionContext, type: string, source: string): Promise<number> {
  const job = await initJob(context.jobPath, type, source);
  context.logger.info(`initialized job directory ${job.path} for ${type} ${source}`);
  return 0;
}
