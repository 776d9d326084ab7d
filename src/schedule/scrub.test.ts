import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planScrub, verificationStanding, type ScrubCandidate } from './scrub.js';

const DAY = 86400;
const GiB = 1024 ** 3;
const NOON = new Date('2026-03-10T12:00:00Z');
const at = (daysFromNoon: number) => new Date(NOON.getTime() + daysFromNoon * DAY * 1000);

function revision(uuid: string, completedDaysAgo: number, fields: Partial<ScrubCandidate> = {}): ScrubCandidate {
  return { job: 'vm', uuid, bytes: GiB, completed: at(-completedDaysAgo), verified: null, distrusted: false, scrubbing: false, ...fields };
}

const ids = (plan: { due: ScrubCandidate[] }) => plan.due.map((r) => r.uuid);

test('a day reads the budget (all bytes / interval days), oldest proof first; every revision comes round once per interval', () => {
  const revisions = [revision('r0', 3.5), revision('r1', 2.5), revision('r2', 1.5), revision('r3', 0.5)];
  const first = planScrub(revisions, 4 * DAY, NOON);
  assert.deepEqual(
    [first.periodStart, first.periodSeconds, first.budgetBytes, first.readBytes, ids(first), first.wakeAt],
    [new Date('2026-03-10T00:00:00Z'), DAY, GiB, 0, ['r0'], new Date('2026-03-11T00:00:00Z')],
  );
  // Twelve days of scrubbing at noon: the same volume every day, no revision unproven for longer than the interval.
  const lastProof = new Map(revisions.map((r) => [r.uuid, r.completed.getTime()]));
  for (let day = 0; day < 12; day++) {
    const now = at(day);
    const plan = planScrub(revisions, 4 * DAY, now);
    assert.equal(plan.due.reduce((sum, r) => sum + r.bytes, 0), GiB, `day ${day}`);
    for (const due of plan.due) {
      assert.ok(now.getTime() - lastProof.get(due.uuid)! <= 4 * DAY * 1000, `${due.uuid} on day ${day}`);
      lastProof.set(due.uuid, now.getTime());
      revisions.find((r) => r.uuid === due.uuid)!.verified = now;
    }
    assert.deepEqual(ids(planScrub(revisions, 4 * DAY, new Date(now.getTime() + 3600_000))), [], 'the budget of the day is spent');
  }
});

test('overdue revisions are due whatever the budget; they use it up', () => {
  const revisions = [revision('old1', 40), revision('old2', 35), revision('young', 10), revision('r', 20, { bytes: 1 })];
  const plan = planScrub(revisions, 30 * DAY, NOON);
  assert.deepEqual(ids(plan), ['old1', 'old2']);
  assert.equal(plan.budgetBytes, Math.ceil((3 * GiB + 1) / 30));
  // The next to fall overdue: r, 20 days ago, in 10 days; before that, the next period.
  assert.deepEqual(plan.wakeAt, new Date('2026-03-11T00:00:00Z'));
});

test('a revision larger than the budget is read when nothing else was that period; one proven within the period waits', () => {
  const big = revision('big', 5, { bytes: 100 * GiB });
  const small = revision('small', 6, { bytes: GiB, verified: at(-0.75) });
  assert.deepEqual(ids(planScrub([big, small], 30 * DAY, NOON)), ['big'], 'small was verified last evening');
  const readToday = revision('other', 2, { bytes: GiB, verified: at(-0.1) });
  const plan = planScrub([big, readToday], 30 * DAY, NOON);
  assert.deepEqual([ids(plan), plan.readBytes], [[], GiB]);
  // A verification running counts as read, and is not planned twice.
  const running = planScrub([big, revision('now', 9, { scrubbing: true })], 30 * DAY, NOON);
  assert.deepEqual([ids(running), running.readBytes], [[], GiB]);
});

test('new revisions wait a period: right after a backup nothing is scrubbed; the plan wakes when the first may be', () => {
  const plan = planScrub([revision('a', 0.25), revision('b', 0.1)], 30 * DAY, NOON);
  assert.deepEqual([ids(plan), plan.wakeAt], [[], new Date('2026-03-11T00:00:00Z')]);
  const evening = { ...revision('a', 0), completed: new Date('2026-03-09T23:00:00Z') };
  const later = planScrub([evening], 30 * DAY, new Date('2026-03-10T22:00:00Z'));
  assert.deepEqual([ids(later), later.wakeAt], [[], new Date('2026-03-10T23:00:00Z')]);
});

test('intervals shorter than a day are their own period: each revision once per interval, when it falls due', () => {
  const now = new Date('2026-03-10T12:00:07Z');
  const seconds = (s: number) => new Date(now.getTime() - s * 1000);
  const revisions = [
    { ...revision('a', 0), completed: seconds(12) },
    { ...revision('b', 0), completed: seconds(30), verified: seconds(4) },
    { ...revision('c', 0), completed: seconds(8) },
  ];
  const plan = planScrub(revisions, 10, now);
  assert.deepEqual([plan.periodStart, plan.periodSeconds, ids(plan)], [new Date('2026-03-10T12:00:00Z'), 10, ['a']]);
  assert.deepEqual(plan.wakeAt, new Date('2026-03-10T12:00:09Z'), 'c falls due 10 s after its backup');
});

test('distrusted revisions are neither scrubbed nor counted; ties go by job and ID', () => {
  const revisions = [
    revision('z', 40, { job: 'b' }),
    revision('y', 40, { job: 'a' }),
    revision('x', 40, { job: 'a' }),
    revision('bad', 50, { distrusted: true, bytes: 1000 * GiB }),
  ];
  const plan = planScrub(revisions, 30 * DAY, NOON);
  assert.deepEqual(plan.due.map((r) => `${r.job}/${r.uuid}`), ['a/x', 'a/y', 'b/z']);
  assert.equal(plan.budgetBytes, Math.ceil((3 * GiB) / 30));
});

test("a job's standing: the newest verification, and since when every trusted revision proved its bytes", () => {
  assert.deepEqual(verificationStanding([]), { lastVerified: null, verifiedSince: null });
  const standing = verificationStanding([
    revision('a', 20, { verified: at(-2) }),
    revision('b', 10),
    revision('c', 30, { verified: at(-1), distrusted: true }),
    revision('d', 1, { verified: at(-0.5) }),
  ]);
  assert.deepEqual(standing, { lastVerified: at(-0.5), verifiedSince: at(-10) });
});

test('a proof dated ahead of the clock (verified while it was a year fast) is no proof: the revision is due now; one a minute ahead is believed', () => {
  const fast = revision('fast', 40, { verified: at(365) });
  const proven = revision('proven', 40, { verified: at(-1) });
  const plan = planScrub([fast, proven], 30 * DAY, NOON);
  assert.deepEqual(ids(plan), ['fast']);
  const slightly = revision('slightly', 40, { verified: new Date(NOON.getTime() + 60_000) });
  assert.deepEqual(ids(planScrub([slightly], 30 * DAY, NOON)), []);
});
