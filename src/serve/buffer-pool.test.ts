import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool } from './buffer-pool.js';

test('the pool never hands out more buffers than it has, and serves waiters in order', async () => {
  const pool = new BufferPool(4096, 3);
  const first = await pool.acquire(2);
  const order: string[] = [];
  const big = pool.acquire(3).then((buffers) => {
    order.push('big');
    return buffers;
  });
  const small = pool.acquire(1).then((buffers) => {
    order.push('small');
    return buffers;
  });
  await new Promise((resolve) => setImmediate(resolve));
  // One buffer is free, but the request for three came first: nobody gets ahead of it.
  assert.deepEqual(order, []);
  for (const buffer of first) pool.release(buffer);
  const bigBuffers = await big;
  assert.equal(bigBuffers.length, 3);
  assert.deepEqual(order, ['big']);
  for (const buffer of bigBuffers) pool.release(buffer);
  assert.equal((await small).length, 1);
  assert.deepEqual(order, ['big', 'small']);
  assert.throws(() => pool.acquire(4), /of a pool of 3/);
});

test('buffers are reused, page-aligned and of the pool size', async () => {
  const pool = new BufferPool(1 << 20, 1);
  const [a] = await pool.acquire(1);
  assert.equal(a!.length, 1 << 20);
  pool.release(a!);
  const [b] = await pool.acquire(1);
  assert.equal(b, a);
});
