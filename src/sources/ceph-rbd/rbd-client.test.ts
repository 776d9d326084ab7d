import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BackyError } from '../../util/errors.js';
import { RbdClient } from './rbd-client.js';

const dir = mkdtempSync(join(tmpdir(), 'backy-rbd-client-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An rbd whose `snap ls` prints `output`. */
function rbdPrinting(name: string, output: string): RbdClient {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\ncat <<'EOF'\n${output}\nEOF\n`);
  chmodSync(path, 0o755);
  return new RbdClient('rbd', 'vm', { ...process.env, BACKY_RBD: path });
}

test('snap ls entries without a name or a sound size are refused in one line, not taken as snapshots', async () => {
  const cases: Array<[string, string]> = [
    ['null', '[null]'],
    ['no-size', '[{"id":9,"name":"backy-A","protected":"false"}]'],
    ['text-size', '[{"id":9,"name":"backy-A","size":"lots","protected":"false"}]'],
    ['negative-size', '[{"id":9,"name":"backy-A","size":-1,"protected":"false"}]'],
    ['no-name', '[{"id":9,"size":4096,"protected":"false"}]'],
  ];
  for (const [name, output] of cases) {
    await assert.rejects(rbdPrinting(name, output).snapshots(), (err: Error) => {
      assert.ok(err instanceof BackyError, `${name}: ${err.message}`);
      assert.match(err.message, /^rbd snap ls rbd\/vm printed a snapshot without a name and size: /, name);
      return true;
    });
  }
});

test('snap ls as rbd prints it', async () => {
  const rbd = rbdPrinting('real', '[{"id":4,"name":"backy-A","size":4194304,"protected":"true","timestamp":"Wed Dec  2 13:43:51 2026"}]');
  assert.deepEqual(await rbd.snapshots(), [{ id: 4, name: 'backy-A', size: 4194304, protected: true }]);
});
