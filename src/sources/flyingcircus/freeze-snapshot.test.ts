import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { RbdClient } from '../ceph-rbd/rbd-client.js';
import type { BackupContext } from '../source.js';
import { createLogger } from '../../util/logger.js';
import { freezeAndSnapshot } from './freeze-snapshot.js';

const dir = mkdtempSync(join(tmpdir(), 'backy-freeze-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a PUT that Consul may have stored without answering is deleted again: the host must not freeze the VM for a failed backup', async () => {
  const rbdPath = join(dir, 'rbd');
  writeFileSync(rbdPath, "#!/bin/sh\necho '[]'\n");
  chmodSync(rbdPath, 0o755);
  const requests: string[] = [];
  // Stores the key, then the connection breaks before the answer.
  const server = createServer((req, res) => {
    req.resume();
    requests.push(`${req.method} ${req.url}`);
    if (req.method === 'PUT') req.socket.destroy();
    else res.end('true');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const env = { ...process.env, BACKY_RBD: rbdPath, CONSUL_HTTP_ADDR: `127.0.0.1:${(server.address() as AddressInfo).port}` };
    const take = freezeAndSnapshot({ vm: 'vm1', consulToken: undefined, timeoutSeconds: 1, env, pollMs: 10 });
    const lines: string[] = [];
    const context = { logger: createLogger({ write: (line: string) => void lines.push(line), close: () => undefined }), signal: new AbortController().signal } as unknown as BackupContext;
    await assert.rejects(take(new RbdClient('rbd', 'vm1', env), 'backy-A', context), /^BackyError: Consul PUT snapshot\/\S+ at http:\/\/127\.0\.0\.1:\d+ failed: /);
    assert.equal(requests.length, 2, requests.join(', '));
    const key = /^PUT (\/v1\/kv\/snapshot\/\S+)$/.exec(requests[0]!)?.[1];
    assert.ok(key, requests[0]);
    assert.equal(requests[1], `DELETE ${key}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
