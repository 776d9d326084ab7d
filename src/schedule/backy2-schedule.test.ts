/**
 * backy 2.x's own schedule tests (its test_schedule.py, 2.0 to 2.1.3), with
 * their literal expected values, against this backy's schedule arithmetic.
 * backy 2.x's test clock stands at 2015-09-01 07:06:47 UTC; its `schedule`
 * fixture is `daily: {interval: 1d, keep: 5}`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from './duration.js';
import { missedTags, nextSlot, planNextRun } from './next-run.js';
import { planRetention, type RetentionRevision } from './retention.js';
import { inScheduleOrder, type HistoryEntry, type Schedule } from './schedule.js';

const DAY = 86400;
const NOW = new Date('2015-09-01T07:06:47Z');
const daily: Schedule = [{ tag: 'daily', intervalSeconds: DAY, keep: 5 }];
const at = (iso: string) => new Date(iso);
const before = (seconds: number): HistoryEntry['timestamp'] => new Date(NOW.getTime() - seconds * 1000);

test('test_parse_duration (the values with a unit)', () => {
  // backy 2.x also reads a bare '5' as 5 seconds; this backy refuses it (see duration.test.ts).
  assert.equal(parseDuration('1w'), 7 * DAY);
  assert.equal(parseDuration('1d'), DAY);
  assert.equal(parseDuration('2d'), 2 * DAY);
  assert.equal(parseDuration('1h'), 3600);
  assert.equal(parseDuration('3h'), 3 * 3600);
  assert.equal(parseDuration('10m'), 600);
  assert.equal(parseDuration('25m'), 1500);
  assert.equal(parseDuration('10s'), 10);
});

test('test_first_backup_catches_up_all_tags_immediately', () => {
  const schedule: Schedule = [...daily, { tag: 'test', intervalSeconds: 7 * DAY, keep: 7 }];
  const plan = planNextRun(schedule, 1, [], NOW);
  assert.deepEqual([plan.at, plan.tags], [at('2015-09-01T07:06:47Z'), ['daily', 'test']]);
});

test('test_tag_first_interval_after_now, test_tag_second_interval_after_now, test_tag_second_interval_with_different_spread', () => {
  assert.deepEqual(nextSlot(DAY, 1, NOW), at('2015-09-02T00:00:01Z'));
  assert.deepEqual(nextSlot(DAY, 5, new Date(NOW.getTime() + 24 * 3600_000)), at('2015-09-03T00:00:05Z'));
  assert.deepEqual(nextSlot(DAY, 5, new Date(NOW.getTime() + 25 * 3600_000)), at('2015-09-03T00:00:05Z'));
});

test('test_tag_catchup_not_needed_for_recent', () => {
  const history = [{ timestamp: before(15), tags: ['daily'] }];
  assert.deepEqual(missedTags(daily, history, NOW), []);
  const plan = planNextRun(daily, 1, history, NOW);
  assert.deepEqual([plan.at, plan.tags], [at('2015-09-02T00:00:01Z'), ['daily']]);
});

test('test_tag_catchup_does_not_stumble_on_adhoc_tags_in_archive', () => {
  // backy 2.x catches the daily tag up now, as this backy does.
  const plan = planNextRun(daily, 1, [{ timestamp: before(15), tags: ['test'] }], NOW);
  assert.deepEqual([plan.at, plan.tags], [NOW, ['daily']]);
});

test('test_tag_catchup_not_needed_for_very_old: the regular slot stays; this backy catches up at once on purpose', () => {
  const history = [{ timestamp: before(DAY * 1.6), tags: ['daily'] }];
  // backy 2.x gives up catching up a tag more than 1.5 intervals old and waits for 2015-09-02 00:00:01.
  assert.deepEqual(nextSlot(DAY, 1, NOW), at('2015-09-02T00:00:01Z'));
  const plan = planNextRun(daily, 1, history, NOW);
  assert.deepEqual([plan.at, plan.tags, plan.reason], [NOW, ['daily'], 'catch-up']);
});

test('test_tag_catchup_needed_for_recently_missed', () => {
  const history = [{ timestamp: before(DAY * 1.2), tags: ['daily'] }];
  assert.deepEqual(
    missedTags(daily, history, NOW).map((m) => m.tag),
    ['daily'],
  );
  const plan = planNextRun(daily, 1, history, NOW);
  assert.deepEqual([plan.at, plan.tags], [at('2015-09-01T07:06:47Z'), ['daily']]);
});

test('test_next_in_interval', () => {
  assert.deepEqual(nextSlot(DAY, 100, NOW), at('2015-09-02T00:01:40Z'));
  // t+30 minutes, t+60 minutes, a few seconds before the slot: the same slot.
  assert.deepEqual(nextSlot(DAY, 100, new Date(NOW.getTime() + 30 * 60_000)), at('2015-09-02T00:01:40Z'));
  assert.deepEqual(nextSlot(DAY, 100, new Date(NOW.getTime() + 60 * 60_000)), at('2015-09-02T00:01:40Z'));
  assert.deepEqual(nextSlot(DAY, 100, at('2015-09-02T00:01:20Z')), at('2015-09-02T00:01:40Z'));
  // One second after it: the next day's.
  assert.deepEqual(nextSlot(DAY, 100, at('2015-09-02T00:01:41Z')), at('2015-09-03T00:01:40Z'));
});

test('test_sorted_tags', () => {
  const schedule: Schedule = [
    { tag: 'daily', intervalSeconds: DAY, keep: 5 },
    { tag: 'weekly', intervalSeconds: 7 * DAY, keep: 4 },
    { tag: 'monthly', intervalSeconds: 28 * DAY, keep: 3 },
  ];
  assert.deepEqual(inScheduleOrder(schedule, ['monthly', 'daily', 'weekly']), ['daily', 'weekly', 'monthly']);
});

test('test_do_not_expire_if_less_than_keep_and_inside_keep_interval', () => {
  const now = at('2014-05-10T10:00:00Z');
  const history: RetentionRevision[] = [];
  let id = 0;
  const add = (iso: string, tags = ['daily']) => {
    const revision = { uuid: String(++id), timestamp: at(iso), tags, complete: true };
    history.push(revision);
    return revision;
  };
  const expire = () => {
    const plan = planRetention(history, daily, now);
    for (const change of plan.retag) history.find((r) => r.uuid === change.uuid)!.tags = change.tags;
    for (const change of plan.remove) history.splice(history.findIndex((r) => r.uuid === change.uuid), 1);
    return plan.remove.map((change) => change.uuid);
  };
  const tags = () =>
    [...history].sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime()).map((r) => r.tags.join(','));

  add('2014-05-10T10:00:00Z');
  assert.deepEqual(expire(), []);
  assert.deepEqual(tags(), ['daily']);

  for (const day of ['09', '08', '07', '06']) add(`2014-05-${day}T10:00:00Z`);
  assert.deepEqual(expire(), []);
  assert.deepEqual(tags(), Array(5).fill('daily'));

  // One more than keep, but within keep x interval: kept.
  add('2014-05-06T11:00:00Z');
  assert.deepEqual(expire(), []);
  assert.deepEqual(tags(), Array(6).fill('daily'));

  // More than keep and outside keep x interval: it loses its tag and goes.
  const gone = add('2014-05-04T11:00:00Z');
  assert.deepEqual(expire(), [gone.uuid]);
  assert.deepEqual(tags(), Array(6).fill('daily'));

  // A tag outside the schedule keeps the revision; only the known tag expires.
  add('2014-05-04T11:00:00Z', ['daily', 'test']);
  assert.deepEqual(expire(), []);
  assert.deepEqual(tags(), ['test', ...Array(6).fill('daily')]);
});
