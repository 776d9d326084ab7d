import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ConsulClient } from './consul-client.js';

test('an endless answer to a PUT fails it at once, read only as far as a message needs', { timeout: 15_000 }, async () => {
  const chunk = Buffer.alloc(1024 * 1024, 'a');
  let sent = 0;
  const open: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    open.push(res);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    // Up to 256 MiB, then the connection stays open: whoever reads it all waits for the timeout.
    const pump = (): void => {
      while (sent < 256 && res.write(chunk)) sent += 1;
      if (sent < 256) res.once('drain', pump);
    };
    res.on('error', () => undefined);
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const consul = new ConsulClient(undefined, { CONSUL_HTTP_ADDR: `127.0.0.1:${(server.address() as AddressInfo).port}` }, 60_000);
    const failure = await consul.put('snapshot/x', '{}').then(
      () => assert.fail('the PUT succeeded'),
      (err: Error) => err,
    );
    assert.match(failure.message, /^Consul PUT snapshot\/x at http:\/\/127\.0\.0\.1:\d+ was not stored \(Consul answered "a+"\)$/);
    assert.ok(failure.message.length < 1024, `a message of ${failure.message.length} characters`);
    assert.ok(sent < 64, `${sent} MiB were read`);
  } finally {
    for (const res of open) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
