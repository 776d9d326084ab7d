import { findRevision } from '../../job/find-job.js';
import { systemClock } from '../../util/clock.js';
import type { ActionContext } from '../context.js';

export async function find(context: ActionContext, spec: string | undefined): Promise<number> {
  const { image } = await findRevision(context.jobPath, spec, context.logger, systemClock.now());
  context.stdout.write(`${image}\n`);
  return 0;
}
