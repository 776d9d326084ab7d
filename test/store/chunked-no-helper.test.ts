/**
 * The native I/O helper is optional (scripts/build-native): without it a
 * chunked revision still restores and verifies as the bytes backed up.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy, BACKY_MAIN } from '../helpers/cli.js';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'backy-no-helper-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

/** backy as built without the helper: loading it fails, as when it was never compiled. */
function withoutHelper(args: string[]) {
  const preload = join(root, 'no-helper.cjs');
  writeFileSync(
    preload,
    "const Module = require('node:module');\n" +
      'const load = Module._load;\n' +
      "Module._load = function (request, ...rest) { if (String(request).endsWith('io.node')) throw new Error('not built'); return load.call(this, request, ...rest); };\n",
  );
  return spawnSync(process.execPath, ['--require', preload, BACKY_MAIN, ...args], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
}

it('restores and verifies a chunked revision byte for byte without the native helper', () => {
  const job = join(root, 'job');
  const source = join(root, 'source.img');
  mkdirSync(job);
  // Several of a restore's 4 MiB reads at once, and a last block shorter than the others.
  const image = randomBytes(16 * 1024 * 1024 + 1000);
  writeFileSync(source, image);
  writeFileSync(join(job, 'config'), `type: file\nfilename: ${source}\nstore: chunked\n`);
  const backup = backy(['-b', job, 'backup', 'daily']);
  assert.equal(backup.status, 0, backup.stderr);

  const restored = join(root, 'restored.img');
  const restore = withoutHelper(['-b', job, 'restore', restored]);
  assert.equal(restore.status, 0, restore.stderr);
  assert.ok(readFileSync(restored).equals(image), 'the restored bytes are those backed up');
  const verify = withoutHelper(['-b', job, 'verify']);
  assert.equal(verify.status, 0, verify.stderr);
  assert.match(verify.stdout, /verified/);
});
