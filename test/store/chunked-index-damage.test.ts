/**
 * A revision's index damaged so that it names a sound chunk at a block of
 * another length: the revision fails to read, and the chunk, which other
 * revisions need, stays where it is.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { revisionIds } from '../helpers/job-files.js';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'backy-index-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function ok(args: string[]) {
  const result = backy(args, { timeoutMs: 30_000 });
  assert.equal(result.status, 0, `backy ${args.join(' ')} failed: ${result.stderr}`);
  return result;
}

it("an index naming another block's chunk at its short last block fails that revision alone: the sound chunk is not quarantined", () => {
  const job = join(root, 'job');
  const source = join(root, 'source.img');
  mkdirSync(job);
  // The last block is 1,000 bytes: no chunk of a whole block can be it.
  const image = randomBytes(16 * 65536 + 1000);
  writeFileSync(source, image);
  writeFileSync(join(job, 'config'), `type: file\nfilename: ${source}\nstore: chunked\n`);
  ok(['-b', job, 'backup', 'daily']);
  ok(['-b', job, 'backup', 'daily']);
  const [damaged, intact] = revisionIds(job);
  const index = join(job, `${damaged}.index`);
  const bytes = readFileSync(index);
  bytes.copy(bytes, bytes.length - 32, 32, 64);
  chmodSync(index, 0o640);
  writeFileSync(index, bytes);

  const failed = backy(['-b', job, 'restore', '-r', damaged!, join(root, 'damaged.img')], { timeoutMs: 30_000 });
  assert.equal(failed.status, 1);
  const chunk = bytes.subarray(32, 64).toString('hex');
  assert.match(failed.stderr, new RegExp(`block at offset 1048576: the index names chunk ${chunk}, which holds a block of another length \\(the index is damaged\\)`));
  assert.deepEqual(readdirSync(join(job, 'chunks', 'damaged')), []);

  ok(['-b', job, 'restore', '-r', intact!, join(root, 'intact.img')]);
  assert.ok(readFileSync(join(root, 'intact.img')).equals(image));
  ok(['-b', job, 'verify', '-r', intact!]);
});
