import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRetention, type RetentionRevision } from './retention.js';
import type { Schedule } from './schedule.js';

const DAY = 86400;
const schedule: Schedule = [
  { tag: 'daily', intervalSeconds: DAY, keep: 3 },
  { tag: 'weekly', intervalSeconds: 7 * DAY, keep: 2 },
];
const now = new Date('2026-11-27T12:00:00Z');
const daysAgo = (days: number) => new Date(now.getTime() - days * DAY * 1000);
const rev = (uuid: string, days: number, tags: string[], complete = true): RetentionRevision => ({
  uuid,
  timestamp: daysAgo(days),
  tags,
  complete,
});

test('revisions beyond the newest keep and older than keep x interval lose the tag; tagless ones go', () => {
  const history = [
    rev('r10', 10, ['daily']),
    rev('r9', 9, ['daily', 'weekly']),
    rev('r5', 5, ['daily']),
    rev('r2', 2.5, ['daily', 'weekly']),
    rev('r1', 1, ['daily']),
    rev('r0', 0, ['daily']),
  ];
  const plan = planRetention(history, schedule, now);
  assert.deepEqual(plan, {
    retag: [{ uuid: 'r9', tags: ['weekly'], expired: ['daily'] }],
    remove: [
      { uuid: 'r10', tags: [], expired: ['daily'] },
      { uuid: 'r5', tags: [], expired: ['daily'] },
    ],
  });
});

test('beyond keep but younger than keep x interval: kept (a burst of manual backups expires no history)', () => {
  const history = [rev('a', 2, ['daily']), rev('b', 0.3, ['daily']), rev('c', 0.2, ['daily']), rev('d', 0.1, ['daily'])];
  assert.deepEqual(planRetention(history, schedule, now), { retag: [], remove: [] });
});

test('tags outside the schedule are never taken away; incomplete revisions are not touched', () => {
  const history = [
    rev('old', 30, ['daily', 'before-upgrade']),
    rev('broken', 29, ['daily'], false),
    rev('x', 20, ['daily']),
    rev('y', 4, ['daily']),
    rev('z', 3.5, ['daily']),
    rev('w', 0, ['daily']),
  ];
  const plan = planRetention(history, schedule, now);
  assert.deepEqual(plan.retag, [{ uuid: 'old', tags: ['before-upgrade'], expired: ['daily'] }]);
  assert.deepEqual(plan.remove, [{ uuid: 'x', tags: [], expired: ['daily'] }]);
});

test('the newest complete revision is never deleted, even without tags', () => {
  const history = [rev('a', 10, ['daily']), rev('b', 9, []), rev('c', 8, []), rev('d', 7, [], false)];
  const plan = planRetention(history, schedule, now);
  assert.deepEqual(
    plan.remove.map((c) => c.uuid),
    ['b'],
  );
  assert.deepEqual(plan.retag, []);
});

test('distrusted revisions do not count towards keep: the newest trusted ones keep their tag', () => {
  const distrusted = (uuid: string, days: number): RetentionRevision => ({ ...rev(uuid, days, ['daily']), trusted: false });
  const history = [rev('t5', 5, ['daily']), rev('t4', 4, ['daily']), distrusted('d2', 2.5), distrusted('d1', 1), distrusted('d0', 0)];
  const plan = planRetention(history, [{ tag: 'daily', intervalSeconds: DAY, keep: 3 }], now);
  // Without trust, t4 and t5 were beyond the newest three and went: only the damaged ones were left.
  assert.deepEqual(plan, { retag: [], remove: [] });
  const later = planRetention([rev('t6', 6, ['daily']), ...history], [{ tag: 'daily', intervalSeconds: DAY, keep: 2 }], now);
  // The newest two trusted ones keep the tag; the third goes, and of the damaged ones d2, beyond keep and old enough.
  assert.deepEqual(later.remove.map((c) => c.uuid), ['t6', 'd2']);
});
