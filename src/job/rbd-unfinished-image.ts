import { setTimeout as sleep } from 'node:timers/promises';
import type { RbdTarget } from '../sources/ceph-rbd/rbd-target.js';
import type { Logger } from '../util/logger.js';

/** How long cleaning up waits for Ceph to drop the watch of an rbd that was stopped (it times out after 30 s). */
const BUSY_LIMIT_MS = 90_000;
const BUSY_RETRY_MS = 2_000;

/**
 * Takes away the RBD image a restore made and did not finish: an
 * import-only migration is aborted (for an import, the image goes with
 * it, also when its HTTP source is gone), then whatever is left is
 * removed. A failure is said, never thrown over the restore's own error.
 */
export async function removeUnfinishedImage(target: RbdTarget, migrating: boolean, logger: Logger): Promise<void> {
  if (migrating) await abortMigration(target, logger);
  await removeQuietly(target, logger);
}

async function abortMigration(target: RbdTarget, logger: Logger): Promise<void> {
  try {
    if ((await whileBusy(() => target.abort(), target, logger)) === 'busy') throw new Error(`still in use after ${BUSY_LIMIT_MS / 1000} s`);
  } catch (err) {
    logger.warn(`rbd migration abort ${target.spec} failed: ${(err as Error).message}`);
  }
}

async function removeQuietly(target: RbdTarget, logger: Logger): Promise<void> {
  try {
    if ((await target.exists()) && (await whileBusy(() => target.remove(), target, logger)) === 'busy') {
      throw new Error(`it is still in use after ${BUSY_LIMIT_MS / 1000} s`);
    }
    logger.info(`the unfinished RBD image ${target.spec} is gone`);
  } catch (err) {
    logger.error(`could not remove the unfinished RBD image ${target.spec}: ${(err as Error).message}; remove it with rbd rm`);
  }
}

/** Repeats `step` while the image is busy, up to BUSY_LIMIT_MS. */
async function whileBusy<T extends string>(step: () => Promise<T | 'busy'>, target: RbdTarget, logger: Logger): Promise<T | 'busy'> {
  const started = Date.now();
  for (let said = false; ; said = true) {
    const outcome = await step();
    if (outcome !== 'busy' || Date.now() - started > BUSY_LIMIT_MS) return outcome;
    if (!said) logger.info(`${target.spec} is still open by the stopped rbd; waiting for Ceph to let it go (up to 30 s)`);
    await sleep(BUSY_RETRY_MS);
  }
}
