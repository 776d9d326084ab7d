/**
 * A chunked backup into a pool on a full filesystem fails with one line and
 * leaves no temporary chunk file behind.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { mountLoopFilesystem, type LoopFilesystem } from '../helpers/loop-fs.js';

let fs: LoopFilesystem;
before(() => {
  fs = mountLoopFilesystem('ext4', '24M');
});
after(() => fs.dispose());

it('a backup that fills the pool\'s filesystem leaves no temporary chunk files', () => {
  const job = join(fs.path, 'job');
  mkdirSync(job);
  // The source lies elsewhere: only the pool fills the filesystem.
  const source = join(fs.path, '..', `${randomBytes(4).toString('hex')}-source.img`);
  writeFileSync(source, randomBytes(40 * 1024 * 1024));
  writeFileSync(join(job, 'config'), `type: file\nfilename: ${source}\nstore: chunked\n`);
  const result = backy(['-b', job, 'backup', 'daily'], { timeoutMs: 60_000 });
  assert.equal(result.status, 1);
  assert.match(result.stderr, /failed: no space left on device\n$/);
  const left: string[] = [];
  for (const stripe of readdirSync(join(job, 'chunks', 'chunks'))) {
    for (const name of readdirSync(join(job, 'chunks', 'chunks', stripe))) if (name.startsWith('.')) left.push(`${stripe}/${name}`);
  }
  assert.deepEqual(left, []);
});
