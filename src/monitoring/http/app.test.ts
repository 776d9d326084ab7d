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

test('a job name a client sends is logged escaped: a line break in it cannot forge a line of the log', async () => {
  const book = TokenBook.parse('ops: ops-0123456789abcdef\n', 'tokens');
  const view = {
    jobs: () => [],
    runJob: (name: string) => ({ ok: false, reason: `no job named "${name}"`, code: 'JOB_NOT_FOUND' }),
  } as unknown as SchedulerControl;
  const logged: string[] = [];
  const logger = { ...quiet, info: (message: string) => logged.push(message), warn: (message: string) => logged.push(message) };
  const { app } = await buildHttpApp({ view, logger, now: () => new Date(), tokens: () => book });
  try {
    const url = '/v1/jobs/x%0A2026-12-03%2018%3A00%3A00%20%5B1%5D%20INFO%20http%3A%20admin%20asked%20to%20reload%1B%5B2K/run';
    const reply = await app.inject({ method: 'POST', url, headers: { authorization: 'Bearer ops-0123456789abcdef' } });
    assert.equal(reply.statusCode, 404);
    assert.equal(logged.length, 1, logged.join('\n'));
    assert.equal(
      logged[0],
      'http: ops asked for a backup of job x\\n2026-12-03 18:00:00 [1] INFO http: admin asked to reload\\u001b[2K: refused ' +
        '(no job named "x\\n2026-12-03 18:00:00 [1] INFO http: admin asked to reload\\u001b[2K")',
    );
  } finally {
    await app.close();
  }
});

test('a dashboard link with a good token leads only to a page of this server: /.//evil.example/ redirects to /', async () => {
  const book = TokenBook.parse('ops: ops-0123456789abcdef\n', 'tokens');
  const view = { jobs: () => [] } as unknown as SchedulerControl;
  const { app } = await buildHttpApp({ view, logger: quiet, now: () => new Date(), tokens: () => book });
  try {
    for (const [url, location] of [
      ['/.//evil.example/?token=ops-0123456789abcdef', '/'],
      ['/jobs/web1?filter=db&token=ops-0123456789abcdef', '/jobs/web1?filter=db'],
    ] as const) {
      const reply = await app.inject({ method: 'GET', url });
      assert.equal(reply.statusCode, 303, url);
      assert.equal(reply.headers.location, location, url);
    }
  } finally {
    await app.close();
  }
});
