import { BackyError } from '../util/errors.js';
import { believable, type UnreadableRevision } from './job-directory.js';
import { isComplete, type Revision } from './revision.js';

export interface SpecContext {
  /** Revisions dated after this (plus a tolerance) are only found by ID: a wrong clock must not make them "last". */
  now?: Date;
  /** `.rev` files that could not be used: named by ID, they are reported as such. */
  unreadable?: readonly UnreadableRevision[];
}

/**
 * Resolves a revision spec against a job's revisions (any order), in the
 * order DESIGN.md fixes: relative number (else, beyond the revisions, a
 * decimal ID, as in backy 2.x), full ID, unique ID prefix (not for a
 * number),
 * `last`/`latest`, tag. Only complete revisions are candidates, except that
 * an incomplete one named by ID is reported as such rather than "unknown".
 */
export function resolveRevisionSpec(spec: string | undefined, revisions: readonly Revision[], context: SpecContext = {}): Revision {
  const candidates = context.now ? believable(revisions, context.now) : revisions;
  const complete = candidates.filter(isComplete).sort((a, b) => b.timestamp.getTime() - a.timestamp.getTime());
  const wanted = (spec ?? 'last').trim();
  if (wanted.length === 0) throw new BackyError('empty revision spec');
  const broken = context.unreadable?.find((r) => r.id === wanted);
  const byId = revisions.find((r) => r.uuid === wanted);

  const number = /^\d+$/.test(wanted);
  if (number) {
    const found = complete[Number(wanted)];
    if (found) return found;
    // Beyond the revisions a number may still be a (decimal, backy 2.x) ID or a tag. Never an ID's prefix: whether an
    // ID starts with "2" is chance, and `-r 2` that would restore whichever revision that happened to be.
  }

  if (broken) throw new BackyError(`revision ${broken.id} is unreadable: ${broken.reason}`);
  if (byId) return requireComplete(byId);

  const prefixed = number ? [] : revisions.filter((r) => r.uuid.startsWith(wanted));
  // Unique among the IDs `status` prints, the unreadable ones too: a prefix of two of them must not pick the readable one unasked.
  const brokenPrefixed = number ? [] : (context.unreadable ?? []).filter((r) => r.id.startsWith(wanted));
  if (prefixed.length + brokenPrefixed.length > 1) {
    const ids = [...prefixed.map((r) => r.uuid), ...brokenPrefixed.map((r) => r.id)].slice(0, 5).join(', ');
    throw new BackyError(`revision spec ${JSON.stringify(wanted)} is ambiguous: it matches ${ids}`);
  }
  if (prefixed.length === 1) return requireComplete(prefixed[0]!);
  if (brokenPrefixed.length === 1) throw new BackyError(`revision ${brokenPrefixed[0]!.id} is unreadable: ${brokenPrefixed[0]!.reason}`);

  if (wanted === 'last' || wanted === 'latest') {
    const newest = complete[0];
    if (newest) return newest;
    throw new BackyError('no complete revision in this job yet');
  }

  const tagged = complete.find((r) => r.tags.includes(wanted));
  if (tagged) return tagged;
  if (number) {
    throw new BackyError(
      `revision ${wanted} not found: the job has ${complete.length} complete revision${complete.length === 1 ? '' : 's'} (a number is never taken for an ID prefix)`,
    );
  }
  throw new BackyError(`no revision matches ${JSON.stringify(wanted)} (not a number, ID, ID prefix, "last" or tag)`);
}

function requireComplete(revision: Revision): Revision {
  if (isComplete(revision)) return revision;
  throw new BackyError(`revision ${revision.uuid} is incomplete (its backup did not finish)`);
}
