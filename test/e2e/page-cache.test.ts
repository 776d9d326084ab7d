/**
 * A backup that writes an image whole (the first one, every one on ext4)
 * and a restore write past the page cache where the filesystem has direct
 * I/O, so a backup server's memory is not flooded with images nobody reads
 * soon; the bytes on disk are still exactly the source's, ragged end
 * included, and verification compares the source with checksums of what
 * was written instead of reading the image back from the disk whole.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { readRevisionYaml, revisionIds } from '../helpers/job-files.js';
import { mountLoopFilesystem, type LoopFilesystem } from '../helpers/loop-fs.js';

const MiB = 1024 * 1024;
let ext4: LoopFilesystem;

before(() => {
  ext4 = mountLoopFilesystem('ext4', '512M');
});
after(() => ext4?.dispose());

/** Bytes of the file in the page cache. */
function cachedBytes(path: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim());
}

function ok(args: string[]): string {
  const result = backy(args);
  assert.equal(result.status, 0, `backy ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

test('on ext4, backups and restores leave the image out of the page cache and every byte arrives', () => {
  const source = join(ext4.path, 'vm.img');
  const job = join(ext4.path, 'job');
  mkdirSync(job);
  // Random data around a hole, and a size that ends in the middle of a block.
  const content = Buffer.concat([randomBytes(20 * MiB), Buffer.alloc(4 * MiB), randomBytes(16 * MiB + 1234)]);
  writeFileSync(source, content);
  ok(['-b', job, 'init', '--store', 'cow', 'file', source]);

  for (const round of [0, 1]) {
    if (round === 1) {
      randomBytes(64 * 1024).copy(content, 5 * MiB + 4096);
      randomBytes(100).copy(content, content.length - 100);
      writeFileSync(source, content);
    }
    ok(['-b', job, 'backup', 'daily']);
    const image = ok(['-b', job, 'find']).trim();
    const id = basename(image);
    assert.equal(revisionIds(job).length, round + 1);
    const stats = readRevisionYaml(job, id).stats;
    assert.equal(stats.verification, 'checksum');
    assert.equal(stats.bytes_verified, content.length);
    assert.ok(Number(stats.bytes_read_back) < content.length / 2, `backup ${round}: ${String(stats.bytes_read_back)} bytes read back`);
    // Only the ragged last block goes through the cache (the source file itself is cached, being read twice).
    assert.ok(cachedBytes(image) <= 64 * 1024, `backup ${round}: ${cachedBytes(image)} bytes of the image cached`);
    assert.ok(readFileSync(image).equals(content), `backup ${round}: the image holds the source's bytes`);

    const target = join(ext4.path, `restored-${round}.img`);
    ok(['-b', job, 'restore', '-r', id, target]);
    assert.ok(cachedBytes(target) <= 64 * 1024, `restore ${round}: ${cachedBytes(target)} bytes of the target cached`);
    assert.ok(readFileSync(target).equals(content), `restore ${round}: the target holds the revision's bytes`);
  }
});

test('with verify: full in the job config, an ext4 backup reads all of its image back from the disk; a wrong value is refused', () => {
  const source = join(ext4.path, 'full.img');
  const job = join(ext4.path, 'job-full');
  mkdirSync(job);
  writeFileSync(source, Buffer.concat([randomBytes(9 * MiB), Buffer.alloc(3 * MiB), randomBytes(MiB + 99)]));
  ok(['-b', job, 'init', '--store', 'cow', 'file', source]);
  const config = readFileSync(join(job, 'config'), 'utf8');

  writeFileSync(join(job, 'config'), `${config}verify: everything\n`);
  const refused = backy(['-b', job, 'backup', 'daily']);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /verify: expected "checksum" or "full"/);
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
  assert.deepEqual(revisionIds(job), []);

  writeFileSync(join(job, 'config'), `${config}verify: full\n`);
  ok(['-b', job, 'backup', 'daily']);
  const id = basename(ok(['-b', job, 'find']).trim());
  const stats = readRevisionYaml(job, id).stats;
  assert.equal(stats.verification, 'full');
  assert.equal(stats.bytes_verified, 13 * MiB + 99);
  assert.equal(stats.bytes_read_back, undefined);
});
