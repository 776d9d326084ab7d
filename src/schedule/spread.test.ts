import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobSpreadSeconds } from './spread.js';

test('the spread depends on the job name only and lies within the longest interval', () => {
  const week = 604800;
  for (const name of ['test01', 'test02', 'a', 'a-very-long-job-name.example.com']) {
    const spread = jobSpreadSeconds(name, week);
    assert.equal(spread, jobSpreadSeconds(name, week));
    assert.ok(Number.isInteger(spread) && spread >= 0 && spread < week, `${name}: ${spread}`);
  }
  assert.notEqual(jobSpreadSeconds('test01', week), jobSpreadSeconds('test02', week));
  assert.equal(jobSpreadSeconds('x', 1), 0);
});

test('1,000 jobs spread evenly over the hours of a day', () => {
  const perHour = new Array<number>(24).fill(0);
  for (let i = 0; i < 1000; i++) perHour[Math.floor(jobSpreadSeconds(`vm${i}`, 86400) / 3600)]! += 1;
  const average = 1000 / 24;
  assert.ok(Math.max(...perHour) <= 2 * average, `busiest hour holds ${Math.max(...perHour)} jobs`);
  assert.ok(Math.min(...perHour) > 0);
});
