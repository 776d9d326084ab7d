import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPython } from '../../test/helpers/cpython.js';
import { fixedClock } from '../util/clock.js';
import { missedTags, nextSlot, planNextRun } from './next-run.js';
import { PythonRandom } from './python-random.js';
import type { HistoryEntry, Schedule } from './schedule.js';

const HOUR = 3600;
const DAY = 86400;
const WEEK = 7 * DAY;
// The manual's "default" schedule (monthly left out to keep the arithmetic readable).
const standard: Schedule = [
  { tag: 'daily', intervalSeconds: DAY, keep: 7 },
  { tag: 'weekly', intervalSeconds: WEEK, keep: 4 },
];
// Slots count from 0001-01-01, a Monday: with a spread of 5 h the weekly slots are Mondays 05:00 UTC.
const spread = 5 * HOUR;
const at = (iso: string) => new Date(iso);
const rev = (iso: string, ...tags: string[]): HistoryEntry => ({ timestamp: at(iso), tags });

test('slots are multiples of the interval since 0001-01-01, shifted by the spread, strictly after now', () => {
  assert.deepEqual(nextSlot(DAY, spread, at('2026-11-27T00:30:00Z')), at('2026-11-27T05:00:00Z'));
  assert.deepEqual(nextSlot(DAY, spread, at('2026-11-27T05:00:00Z')), at('2026-11-28T05:00:00Z'));
  assert.deepEqual(nextSlot(DAY, spread, at('2026-11-27T04:59:59.999Z')), at('2026-11-27T05:00:00Z'));
  assert.deepEqual(nextSlot(WEEK, spread, at('2026-11-27T00:00:00Z')), at('2026-11-30T05:00:00Z'));
  // 30-day slots: 0001-01-01 lies 719162 days (2 more than a multiple of 30) before 1970-01-01.
  assert.deepEqual(nextSlot(30 * DAY, 0, at('2026-11-27T00:00:00Z')), at('2026-12-01T00:00:00Z'));
  // A spread beyond a shorter interval wraps around it.
  assert.deepEqual(nextSlot(DAY, 3 * DAY + 2 * HOUR, at('2026-11-27T00:00:00Z')), at('2026-11-27T02:00:00Z'));
  assert.deepEqual(nextSlot(2, 3, at('2026-11-27T00:00:00Z')), at('2026-11-27T00:00:01Z'));
});

test("the same slots as backy 2.x's arithmetic run by CPython (datetime.min, total_seconds, int division)", (t) => {
  const intervals = [1, 2, 5, 7, 13, 60, 90, 3600, 5400, 7 * 3600, DAY, 2 * DAY, WEEK, 2 * WEEK, 28 * DAY, 30 * DAY, 365 * DAY];
  const random = new PythonRandom(2015n);
  const cases: Array<[number, number, number]> = [];
  for (const interval of intervals) {
    for (let i = 0; i < 40; i++) {
      const spread = random.randint(0, 400 * DAY);
      // Any millisecond from 1990 to 2100, and the moments around this interval's slots.
      const ms = Date.parse('1990-01-01T00:00:00Z') + random.randint(0, 110 * 365 * DAY) * 1000 + random.randint(0, 999);
      cases.push([ms, interval, spread]);
      const slot = nextSlot(interval, spread, new Date(ms)).getTime();
      for (const delta of [-1000, -1, 0, 1]) cases.push([slot + delta, interval, spread]);
    }
  }
  const expected = runPython(
    `import datetime, json, sys
utc = datetime.timezone.utc
origin = datetime.datetime.min.replace(tzinfo=utc)
unix = datetime.datetime(1970, 1, 1, tzinfo=utc)
out = []
for ms, seconds, spread in json.load(sys.stdin):
    interval = datetime.timedelta(seconds=seconds).total_seconds()
    spread = spread % interval
    since = (unix + datetime.timedelta(milliseconds=ms) - origin).total_seconds() - spread
    slot = origin + datetime.timedelta(seconds=(int(since / interval) + 1) * interval + spread)
    out.append((slot - unix) // datetime.timedelta(milliseconds=1))
print(json.dumps(out))`,
    cases,
  );
  if (expected === null) return t.skip('python3 is not installed');
  assert.deepEqual(
    cases.map(([ms, interval, spread]) => nextSlot(interval, spread, new Date(ms)).getTime()),
    expected,
  );
});

test('a job without revisions runs right away with all its tags', () => {
  const now = fixedClock('2026-11-27T12:00:00Z').now();
  assert.deepEqual(planNextRun(standard, spread, [], now), { at: now, tags: ['daily', 'weekly'], dueSince: now, reason: 'first' });
});

test('a job that is up to date runs at its next slot; tags whose slots meet run together', () => {
  const history = [rev('2026-11-23T05:00:03Z', 'daily', 'weekly'), rev('2026-11-27T05:00:02Z', 'daily')];
  const plan = planNextRun(standard, spread, history, at('2026-11-27T12:00:00Z'));
  assert.deepEqual(plan, { at: at('2026-11-28T05:00:00Z'), tags: ['daily'], dueSince: at('2026-11-28T05:00:00Z'), reason: 'regular' });

  const lateWeek = [rev('2026-11-23T05:00:03Z', 'daily', 'weekly'), rev('2026-11-29T05:00:02Z', 'daily')];
  const weekly = planNextRun(standard, spread, lateWeek, at('2026-11-29T06:00:00Z'));
  assert.deepEqual(weekly.at, at('2026-11-30T05:00:00Z'));
  assert.deepEqual(weekly.tags, ['daily', 'weekly']);
});

test('after downtime, missed tags run now when the next slot is more than 5 minutes away', () => {
  // Last backups a week and a half ago: both tags are missed.
  const history = [rev('2026-11-16T05:00:01Z', 'daily', 'weekly')];
  const now = at('2026-11-27T12:00:00Z');
  const plan = planNextRun(standard, spread, history, now);
  assert.deepEqual(plan.at, now);
  assert.deepEqual(plan.tags, ['daily', 'weekly']);
  assert.equal(plan.reason, 'catch-up');
  // Overdue since the daily revision became a day old.
  assert.deepEqual(plan.dueSince, at('2026-11-17T05:00:01Z'));
});

test('missed tags join the next slot when it is at most 5 minutes away', () => {
  const history = [rev('2026-11-10T05:00:00Z', 'daily', 'weekly'), rev('2026-11-26T05:00:00Z', 'daily')];
  const plan = planNextRun(standard, spread, history, at('2026-11-27T04:55:00Z'));
  assert.deepEqual(plan.at, at('2026-11-27T05:00:00Z'));
  assert.deepEqual(plan.tags, ['daily', 'weekly']);
  assert.equal(plan.reason, 'regular');
  assert.deepEqual(plan.dueSince, at('2026-11-17T05:00:00Z'));

  const sooner = planNextRun(standard, spread, history, at('2026-11-27T04:54:59Z'));
  assert.deepEqual(sooner.at, at('2026-11-27T04:54:59Z'));
  assert.equal(sooner.reason, 'catch-up');
});

test('a tag is missed once its newest revision is as old as its interval', () => {
  const history = [rev('2026-11-26T05:00:00Z', 'daily', 'weekly')];
  assert.deepEqual(missedTags(standard, history, at('2026-11-27T04:59:59Z')), []);
  assert.deepEqual(missedTags(standard, history, at('2026-11-27T05:00:00Z')), [{ tag: 'daily', dueSince: at('2026-11-27T05:00:00Z') }]);
});

test('manual backups count, ad-hoc tags do not', () => {
  const now = at('2026-11-27T12:00:00Z');
  // A manual `backup daily` an hour ago satisfies the daily tag.
  const manualDaily = [rev('2026-11-26T05:00:00Z', 'daily', 'weekly'), rev('2026-11-27T11:00:00Z', 'daily')];
  assert.equal(planNextRun(standard, spread, manualDaily, now).reason, 'regular');
  // A manual `backup before-upgrade` does not: daily is still missed and runs now.
  const adHoc = [rev('2026-11-20T05:00:00Z', 'daily', 'weekly'), rev('2026-11-27T11:00:00Z', 'before-upgrade')];
  const plan = planNextRun(standard, spread, adHoc, now);
  assert.equal(plan.reason, 'catch-up');
  assert.deepEqual(plan.tags, ['daily', 'weekly']);
});

test('a tag never carried is overdue since the oldest revision', () => {
  const history = [rev('2026-11-25T05:00:00Z', 'daily'), rev('2026-11-26T05:00:00Z', 'daily')];
  const missed = missedTags(standard, history, at('2026-11-26T06:00:00Z'));
  assert.deepEqual(missed, [{ tag: 'weekly', dueSince: at('2026-11-25T05:00:00Z') }]);
});

test('second-scale schedules: runs alternate as their slots come', () => {
  const fast: Schedule = [
    { tag: 'a', intervalSeconds: 2, keep: 3 },
    { tag: 'b', intervalSeconds: 5, keep: 2 },
  ];
  const clock = fixedClock('2026-11-27T00:00:00.300Z');
  const history: HistoryEntry[] = [rev('2026-11-27T00:00:00.100Z', 'a', 'b')];
  const seen: string[] = [];
  for (let i = 0; i < 6; i++) {
    const plan = planNextRun(fast, 0, history, clock.now());
    seen.push(`${plan.at.toISOString().slice(17, 23)} ${plan.tags.join(',')}`);
    history.push({ timestamp: new Date(plan.at.getTime() + 100), tags: plan.tags });
    clock.set(new Date(plan.at.getTime() + 300));
  }
  assert.deepEqual(seen, ['02.000 a', '04.000 a', '05.000 b', '06.000 a', '08.000 a', '10.000 a,b']);
});
