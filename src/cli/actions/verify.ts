import { damageText, verifyJob, type VerifyOutcome } from '../../job/verify-job.js';
import { systemClock } from '../../util/clock.js';
import { formatBytes } from '../../util/units.js';
import type { ActionContext } from '../context.js';
import { runLongOperation } from '../long-operation.js';

/** `backy verify`: one line per revision on stdout; exit 1 when any is damaged or could not be checked. */
export async function verify(context: ActionContext, spec: string | undefined, all: boolean): Promise<number> {
  let outcomes: VerifyOutcome[] = [];
  await runLongOperation(context, 'verification', async (controls) => {
    outcomes = await verifyJob(context.jobPath, { spec, all, logger: context.logger, clock: systemClock, ...controls });
  });
  for (const outcome of outcomes) context.stdout.write(`${describe(outcome)}\n`);
  return outcomes.every((o) => o.kind === 'verified' || o.kind === 'recorded') ? 0 : 1;
}

function describe(outcome: VerifyOutcome): string {
  switch (outcome.kind) {
    case 'verified':
      return `revision ${outcome.revision} verified: ${formatBytes(outcome.bytes)} in ${outcome.seconds.toFixed(1)} s`;
    case 'recorded':
      return (
        `revision ${outcome.revision} had no recorded hashes (made before backy kept them): ` +
        `${formatBytes(outcome.bytes)} hashed in ${outcome.seconds.toFixed(1)} s and recorded; this first pass could not check anything`
      );
    case 'damaged':
      return `revision ${outcome.revision} is damaged: ${damageText(outcome)}`;
    case 'failed':
      return `revision ${outcome.revision} could not be verified: ${outcome.reason}`;
  }
}
