import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunQueue } from './run-queue.js';

const run = (job: string, due: string) => ({ job, tags: ['daily'], dueSince: new Date(due) });

test('the most overdue run comes first, ties by name; a job is queued once', () => {
  const queue = new RunQueue();
  queue.add(run('b', '2026-11-27T10:00:00Z'));
  queue.add(run('c', '2026-11-27T09:00:00Z'));
  queue.add(run('a', '2026-11-27T10:00:00Z'));
  queue.add(run('d', '2026-11-27T11:00:00Z'));
  assert.deepEqual(queue.jobs(), ['c', 'a', 'b', 'd']);
  queue.add(run('d', '2026-11-27T08:00:00Z'));
  assert.deepEqual(queue.jobs(), ['d', 'c', 'a', 'b']);
  assert.equal(queue.size, 4);
  assert.ok(queue.remove('c'));
  assert.ok(!queue.remove('c'));
  assert.equal(queue.take()?.job, 'd');
  assert.deepEqual(queue.jobs(), ['a', 'b']);
  assert.ok(queue.has('a') && !queue.has('d'));
});
