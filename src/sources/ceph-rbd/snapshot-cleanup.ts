import type { Logger } from '../../util/logger.js';
import type { RbdClient, RbdSnapshot } from './rbd-client.js';

/** Snapshots backy takes are named after the revision: `backy-{revision id}`. */
export const SNAPSHOT_PREFIX = 'backy-';

export function snapshotName(revisionId: string): string {
  return `${SNAPSHOT_PREFIX}${revisionId}`;
}

export interface CleanupPlan {
  remove: string[];
  /** backy's snapshots that are protected (e.g. cloned from): left alone. */
  skipProtected: string[];
}

/**
 * Which snapshots to remove after a backup: every `backy-*` one except
 * `keep` (the newest complete revision's, the base of the next
 * differential backup). Snapshots with other names are never touched.
 */
export function planSnapshotCleanup(snapshots: readonly RbdSnapshot[], keep: string | null): CleanupPlan {
  const ours = snapshots.filter((s) => s.name.startsWith(SNAPSHOT_PREFIX) && s.name !== keep);
  return {
    remove: ours.filter((s) => !s.protected).map((s) => s.name),
    skipProtected: ours.filter((s) => s.protected).map((s) => s.name),
  };
}

/**
 * Applies the plan to `known` snapshots (listed moments ago), or to a
 * fresh list. Never throws: a snapshot left behind costs space in the
 * cluster, not correctness, and the next backup tries again.
 */
export async function cleanUpSnapshots(rbd: RbdClient, keep: string | null, logger: Logger, known?: readonly RbdSnapshot[]): Promise<void> {
  let snapshots: readonly RbdSnapshot[];
  try {
    snapshots = known ?? (await rbd.snapshots());
  } catch (err) {
    logger.warn(`could not list the snapshots of ${rbd.spec()} to remove old ones: ${(err as Error).message}`);
    return;
  }
  const plan = planSnapshotCleanup(snapshots, keep);
  for (const name of plan.skipProtected) {
    logger.warn(`snapshot ${rbd.spec(name)} is protected; leaving it (unprotect it to let backy remove it)`);
  }
  for (const name of plan.remove) {
    try {
      const result = await rbd.removeSnapshot(name);
      if (result === 'protected') logger.warn(`snapshot ${rbd.spec(name)} is protected; leaving it`);
      else logger.debug(`snapshot ${rbd.spec(name)} ${result === 'removed' ? 'removed' : 'was already gone'}`);
    } catch (err) {
      logger.warn(`could not remove snapshot ${rbd.spec(name)}: ${(err as Error).message}`);
    }
  }
}
