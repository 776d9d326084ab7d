/**
 * A damaged chunk found by a read is moved out of the pool and noted, even
 * where the pool's damaged directory was deleted by hand: the revisions
 * naming it are distrusted, and the next backup heals it.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { revisionIds } from '../helpers/job-files.js';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'backy-quarantine-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function ok(args: string[]) {
  const result = backy(args, { timeoutMs: 30_000 });
  assert.equal(result.status, 0, `backy ${args.join(' ')} failed: ${result.stderr}`);
  return result;
}

it('a chunk found damaged is quarantined though the damaged directory was deleted, and the next backup heals it', () => {
  const job = join(root, 'job');
  const source = join(root, 'source.img');
  mkdirSync(job);
  const image = randomBytes(1024 * 1024);
  writeFileSync(source, image);
  writeFileSync(join(job, 'config'), `type: file\nfilename: ${source}\nstore: chunked\n`);
  ok(['-b', job, 'backup', 'daily']);
  const [id] = revisionIds(job);
  const name = readFileSync(join(job, `${id}.index`)).subarray(32, 64).toString('hex');
  const chunk = join(job, 'chunks', 'chunks', name.slice(0, 2), name);
  chmodSync(chunk, 0o640);
  writeFileSync(chunk, randomBytes(65536));
  rmSync(join(job, 'chunks', 'damaged'), { recursive: true });

  const restore = backy(['-b', job, 'restore', join(root, 'restored.img')], { timeoutMs: 30_000 });
  assert.equal(restore.status, 1);
  assert.match(restore.stderr, new RegExp(`block at offset 0 does not match its recorded hash \\(chunk ${name} is damaged\\)`));
  assert.ok(!existsSync(chunk), 'the damaged chunk is out of the pool');
  assert.ok(existsSync(join(job, 'chunks', 'damaged', name)));

  const healing = ok(['-b', job, 'backup', 'daily']);
  assert.match(healing.stderr + healing.stdout, new RegExp(`revision ${id} is now distrusted`));
  ok(['-b', job, 'restore', join(root, 'healed.img')]);
  assert.ok(readFileSync(join(root, 'healed.img')).equals(image));
});
