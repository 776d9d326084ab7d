import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slaStatus } from './sla.js';

const HOUR = 3600_000;
const NOW = new Date('2015-09-01T07:06:47Z');
const daily = (lastBackup: Date | null, firstSeen = new Date(NOW.getTime() - 1000 * HOUR)) => ({ slaIntervalSeconds: 86400, lastBackup, firstSeen });
const ago = (ms: number) => new Date(NOW.getTime() - ms);

test("backy 2.x's test_sla_over_time: a daily job is within SLA up to 36 hours, inclusive", () => {
  for (const hours of [6, 24, 32, 36]) assert.equal(slaStatus(daily(ago(hours * HOUR)), NOW).ok, true, `${hours} h`);
  // "1 second later we consider this not to be good any longer."
  assert.equal(slaStatus(daily(ago(36 * HOUR + 1000)), NOW).ok, false);
  assert.equal(slaStatus(daily(ago(36 * HOUR + 1)), NOW).ok, false);
});

test('the deadline is the last moment within SLA; the age counts from the last backup', () => {
  const result = slaStatus(daily(ago(10 * HOUR)), NOW);
  assert.deepEqual(result, { ok: true, ageSeconds: 36000, deadline: new Date(NOW.getTime() + 26 * HOUR) });
  assert.equal(slaStatus(daily(ago(10 * HOUR)), result.deadline).ok, true);
  assert.equal(slaStatus(daily(ago(10 * HOUR)), new Date(result.deadline.getTime() + 1)).ok, false);
});

test("backy 2.x's test_sla_before_first_backup: a job without backups starts within SLA (here for 1.5 intervals)", () => {
  assert.equal(slaStatus(daily(null, NOW), NOW).ok, true);
  assert.equal(slaStatus(daily(null, ago(36 * HOUR)), NOW).ok, true);
  assert.equal(slaStatus(daily(null, ago(36 * HOUR + 1)), NOW).ok, false);
  assert.equal(slaStatus(daily(null, ago(5 * HOUR)), NOW).ageSeconds, 5 * 3600);
});
