import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPython } from '../../test/helpers/cpython.js';
import { jobSpreadSeconds } from './spread.js';

const DAY = 86400;

test("backy 2.x's own values (its test_spread): test01 19971 s, test02 36217 s, asdf02 14532 s for a daily schedule", () => {
  assert.equal(jobSpreadSeconds('test01', DAY), 19971);
  assert.equal(jobSpreadSeconds('test02', DAY), 36217);
  assert.equal(jobSpreadSeconds('asdf02', DAY), 14532);
  // The names test/compat/backy2-schedule.test.ts gives jobs for backy 2.x's spreads of 1, 5 and 100 s.
  assert.deepEqual(
    ['test36005', 'test63635', 'test14400'].map((name) => jobSpreadSeconds(name, DAY)),
    [1, 5, 100],
  );
  // So test01 runs daily at 05:32:51 UTC and test02 at 10:03:37, as they did under backy 2.x.
  assert.equal(new Date(19971 * 1000).toISOString().slice(11, 19), '05:32:51');
  assert.equal(new Date(36217 * 1000).toISOString().slice(11, 19), '10:03:37');
});

test('the same spread as CPython computes it the way backy 2.x does, for many names and longest intervals', (t) => {
  const names = ['', 'a', 'test01', 'foo00', 'test36005', 'test63635', 'test14400', 'vm-0042.example.com', 'ümlaut', '日本語', 'x'.repeat(300), 'tab\there'];
  for (let i = 0; i < 120; i++) names.push(`vm${i}`, `customer${i}-disk${i % 3}`);
  const limits = [1, 2, 5, 60, 3600, 5400, DAY, 7 * DAY, 30 * DAY, 365 * DAY, 2 ** 32, 10 ** 12];
  const cases = names.flatMap((name) => limits.map((limit) => [name, limit] as const));
  const expected = runPython(
    `import hashlib, json, random, sys
print(json.dumps([random.Random(int(hashlib.md5(name.encode('utf-8')).hexdigest(), 16)).randint(0, limit)
                  for name, limit in json.load(sys.stdin)]))`,
    cases,
  );
  if (expected === null) return t.skip('python3 is not installed');
  assert.deepEqual(
    cases.map(([name, limit]) => jobSpreadSeconds(name, limit)),
    expected,
  );
});

test('the spread depends on the job name only and lies within [0, longest interval]', () => {
  const week = 7 * DAY;
  for (const name of ['test01', 'test02', 'a', 'a-very-long-job-name.example.com']) {
    const spread = jobSpreadSeconds(name, week);
    assert.equal(spread, jobSpreadSeconds(name, week));
    assert.ok(Number.isInteger(spread) && spread >= 0 && spread <= week, `${name}: ${spread}`);
  }
  assert.notEqual(jobSpreadSeconds('test01', week), jobSpreadSeconds('test02', week));
});

test('1,000 jobs spread evenly over the hours of a day', () => {
  const perHour = new Array<number>(25).fill(0);
  for (let i = 0; i < 1000; i++) perHour[Math.floor(jobSpreadSeconds(`vm${i}`, DAY) / 3600)]! += 1;
  const average = 1000 / 24;
  const hours = perHour.slice(0, 24);
  assert.ok(Math.max(...hours) <= 2 * average, `busiest hour holds ${Math.max(...hours)} jobs`);
  assert.ok(Math.min(...hours) > 0);
});
