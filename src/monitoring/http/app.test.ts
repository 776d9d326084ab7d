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
