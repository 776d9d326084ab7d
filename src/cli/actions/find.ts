import { findRevision } from '../../job/restore-job.js';
import type { ActionContext } from '../context.js';

export async function find(context: ActionContext, spec: string | undefined): Promise<number> {
  const { image } = await findRevision(context.jobPath, spec, context.logger);
  context.stdout.write(`${image}\n`);
  return 0;
}
