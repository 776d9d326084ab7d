/**
 * Continuous scrubbing, planned: which stored revisions the scheduler
 * verifies next, so that every complete revision proves its bytes at least
 * once per scrub interval and the disks read about the same every day.
 * Pure: the caller gathers the revisions, starts the verifications, and
 * plans again when they end or at `wakeAt`.
 *
 * - A revision's proof is its `.rev`'s `verified` time, or its backup's
 *   completion when it was never verified: a backup verifies what it wrote
 *   against the source, so a new revision starts its interval proven.
 * - The interval is cut into periods: UTC days, or the interval itself
 *   when it is shorter. Each period may read a budget of all revisions'
 *   bytes × period ÷ interval; what was verified in the period (a `verified`
 *   time within it, a verification running) counts against it.
 * - Overdue revisions (proof older than the interval) are due regardless of
 *   the budget; the rest, oldest proof first, as far as the budget goes. One
 *   that does not fit waits for the next period, unless nothing was read in
 *   this one (so a revision larger than a period's budget is not stuck).
 * - No revision is read twice in a period: one proven less than a period ago
 *   waits until it is overdue.
 * - Distrusted revisions are not scrubbed: they are quarantined already and
 *   stay so whatever a later read finds.
 * - A proof dated ahead of the clock by more than PROOF_SKEW_MS (a
 *   verification while the clock was wrong) is no proof: the revision is
 *   overdue, since waiting for that date could skip it for years.
 */

const DAY_SECONDS = 86400;

/** As for revisions (job-directory's FUTURE_TOLERANCE_MS): a clock stepped back a little re-reads nothing. */
const PROOF_SKEW_MS = 5 * 60 * 1000;

export interface StoredRevision {
  uuid: string;
  /** Bytes its verification reads (the image's size). */
  bytes: number;
  /** When its backup completed. */
  completed: Date;
  /** When it last proved its bytes against its recorded hashes (`verified` in its `.rev`). */
  verified: Date | null;
  distrusted: boolean;
}

export interface ScrubCandidate extends StoredRevision {
  job: string;
  /** Being verified right now: its bytes count as read in this period. */
  scrubbing: boolean;
}

export interface ScrubPlan {
  periodStart: Date;
  periodSeconds: number;
  /** Bytes this period may read. */
  budgetBytes: number;
  /** Bytes verified in this period so far, running verifications included. */
  readBytes: number;
  /** To verify now, in this order: overdue ones first, then as far as the budget goes; oldest proof first. */
  due: ScrubCandidate[];
  /** When the plan changes by itself (the next period, a revision falling overdue): plan again then. */
  wakeAt: Date;
}

/** When the revision last proved its bytes: verified, or else made (and verified against its source) by its backup. */
export function provenAt(revision: StoredRevision): Date {
  return revision.verified ?? revision.completed;
}

export function scrubPeriodSeconds(intervalSeconds: number): number {
  return Math.min(DAY_SECONDS, intervalSeconds);
}

export function planScrub(revisions: readonly ScrubCandidate[], intervalSeconds: number, now: Date): ScrubPlan {
  const periodSeconds = scrubPeriodSeconds(intervalSeconds);
  const periodMs = periodSeconds * 1000;
  const intervalMs = intervalSeconds * 1000;
  const periodStart = new Date(Math.floor(now.getTime() / periodMs) * periodMs);
  const trusted = revisions.filter((r) => !r.distrusted);
  const total = trusted.reduce((sum, r) => sum + r.bytes, 0);
  const budgetBytes = Math.ceil((total * periodSeconds) / intervalSeconds);
  const readBytes = trusted
    .filter((r) => r.scrubbing || (r.verified !== null && r.verified >= periodStart && r.verified <= now))
    .reduce((sum, r) => sum + r.bytes, 0);

  const believedProof = (r: ScrubCandidate) => {
    const at = provenAt(r).getTime();
    return at <= now.getTime() + PROOF_SKEW_MS ? at : Number.NEGATIVE_INFINITY;
  };
  const waiting = trusted
    .filter((r) => !r.scrubbing)
    .sort((a, b) => believedProof(a) - believedProof(b) || compare(a.job, b.job) || compare(a.uuid, b.uuid));
  const overdue = (r: ScrubCandidate) => believedProof(r) + intervalMs <= now.getTime();
  const due = waiting.filter(overdue);
  let planned = readBytes + due.reduce((sum, r) => sum + r.bytes, 0);
  let wakeAt = periodStart.getTime() + periodMs;
  let stopped = false;
  for (const revision of waiting) {
    if (overdue(revision)) continue;
    const proof = believedProof(revision);
    if (!stopped) {
      if (proof + periodMs > now.getTime()) {
        stopped = true;
        wakeAt = Math.min(wakeAt, proof + periodMs);
      } else if (planned > 0 && planned + revision.bytes > budgetBytes) {
        stopped = true;
      } else {
        due.push(revision);
        planned += revision.bytes;
        continue;
      }
    }
    // Oldest first: the first one left waiting is the next to fall overdue.
    wakeAt = Math.min(wakeAt, proof + intervalMs);
    break;
  }
  return { periodStart, periodSeconds, budgetBytes, readBytes, due, wakeAt: new Date(wakeAt) };
}

export interface VerificationStanding {
  /** The newest `verified` time of the job's complete revisions: when one of them last proved its bytes. */
  lastVerified: Date | null;
  /** Every trusted complete revision proved its bytes since then (its oldest proof); null without any. */
  verifiedSince: Date | null;
}

export function verificationStanding(revisions: readonly StoredRevision[]): VerificationStanding {
  let lastVerified: Date | null = null;
  let verifiedSince: Date | null = null;
  for (const revision of revisions) {
    if (revision.verified && (!lastVerified || revision.verified > lastVerified)) lastVerified = revision.verified;
    if (revision.distrusted) continue;
    const proof = provenAt(revision);
    if (!verifiedSince || proof < verifiedSince) verifiedSince = proof;
  }
  return { lastVerified, verifiedSince };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
