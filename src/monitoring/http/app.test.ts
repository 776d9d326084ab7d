import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHttpApp } from './app.js';
import { TokenBook } from './tokens.js';
import type { SchedulerControl } from '../../scheduler/status-model.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

test('a request while the server shuts down is answered 503 with an error code, like every other error', async () => {
  const book = TokenBook.parse('ops: ops-0123456789abcdef\n', 'tokens');
  const view = { jobs: () => [] } as unknown as SchedulerControl;
  const { app } = await buildHttpApp({ view, logger: quiet, now: () => new Date(), tokens: () => book });
  const closed = app.close();
  const requests = [
    { method: 'GET' as const, url: '/metrics' },
    { method: 'POST' as const, url: '/v1/reload', headers: { authorization: 'Bearer ops-0123456789abcdef' } },
  ];
  const replies = await Promise.all(requests.map((request) => app.inject(request)));
  for (const [index, reply] of replies.entries()) {
    assert.equal(reply.statusCode, 503, requests[index]!.url);
    assert.deepEqual(reply.json(), { error: 'the scheduler is shutting down', code: 'SHUTTING_DOWN' });
  }
  await closed;
});

test('a path that is no URL (a bad %-escape) or whose job name is too long gets the API error shape and the security headers', async () => {
  const book = TokenBook.parse('ops: ops-0123456789abcdef\n', 'tokens');
  const view = { jobs: () => [] } as unknown as SchedulerControl;
  const { app } = await buildHttpApp({ view, logger: quiet, now: () => new Date(), tokens: () => book });
  try {
    const authorization = 'Bearer ops-0123456789abcdef';
    for (const [url, headers] of [
      ['/v1/jobs/%ff', { authorization }],
      ['/v1/jobs/%', {}],
      ['/jobs/%ff', {}],
      [`/v1/jobs/${'a'.repeat(300)}`, { authorization }],
      [`/jobs/${'a'.repeat(300)}`, {}],
    ] as const) {
      const reply = await app.inject({ method: 'GET', url, headers });
      assert.equal(reply.statusCode, 400, url);
      assert.match(reply.headers['content-type'] as string, /^application\/json/, url);
      const body = reply.json() as { error: string; code: string };
      assert.deepEqual(Object.keys(body), ['error', 'code'], url);
      assert.equal(body.code, 'BAD_REQUEST', url);
      assert.ok(!body.error.includes(url.slice(0, 12)), `the message repeats the address: ${body.error}`);
      assert.equal(reply.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(reply.headers['x-frame-options'], 'DENY', url);
    }
  } finally {
    await app.close();
  }
});
