/**
 * A revision image the disk cannot read (an I/O error, not a missing
 * file): the image is replaced by a FUSE file (nbdfuse over nbdkit, whose
 * ddrescue filter answers EIO for one bad region, as a failing disk
 * would). The next backup does not wedge, verify names the unreadable
 * chunk and distrusts the revision, its restore fails with one line and
 * leaves no file; the other revisions restore byte for byte.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { assertOneLineError, readRevisionYaml, revisionIds, sameBytes, waitUntil } from '../helpers/job-files.js';

const MiB = 1024 * 1024;
let dir = '';
let fuse: ChildProcess | null = null;
let mounted = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'backy-eio-'));
});

after(() => {
  if (mounted) execFileSync('fusermount3', ['-u', mounted], { stdio: 'ignore' });
  fuse?.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** Serves `path`'s current bytes in its place, with [badStart, badStart + badLength) answering EIO. */
async function failingDisk(path: string, badStart: number, badLength: number): Promise<void> {
  const backing = join(dir, 'backing.img');
  copyFileSync(path, backing);
  const size = statSync(backing).size;
  const hex = (n: number) => `0x${n.toString(16)}`;
  const map = join(dir, 'bad-blocks.map');
  writeFileSync(
    map,
    ['# ddrescue mapfile', `${hex(0)} +`, `${hex(0)} ${hex(badStart)} +`, `${hex(badStart)} ${hex(badLength)} -`, `${hex(badStart + badLength)} ${hex(size - badStart - badLength)} +`, ''].join('\n'),
  );
  fuse = spawn('nbdfuse', ['-r', path, '--command', 'nbdkit', '-s', '--filter=ddrescue', 'file', backing, `ddrescue-mapfile=${map}`], { stdio: 'ignore' });
  mounted = path;
  await waitUntil(() => {
    try {
      return execFileSync('findmnt', ['-n', path], { encoding: 'utf8' }).includes('fuse');
    } catch {
      return false;
    }
  }, 'the FUSE file to be mounted', 20_000);
}

test('an image the disk cannot read: backups go on, verify and restore name the problem, nothing else is lost', async () => {
  const source = join(dir, 'vm.img');
  const job = join(dir, 'job');
  writeFileSync(source, randomBytes(6 * MiB));
  assert.equal(backy(['-b', job, 'init', '--store', 'cow', 'file', source]).status, 0);
  assert.equal(backy(['-b', job, 'backup', 'daily']).status, 0);
  const first = revisionIds(job)[0]!;
  const firstCopy = join(dir, 'first.img');
  copyFileSync(source, firstCopy);
  writeFileSync(source, randomBytes(6 * MiB));
  assert.equal(backy(['-b', job, 'backup', 'daily']).status, 0);
  const broken = revisionIds(job).find((id) => id !== first)!;
  await failingDisk(join(job, broken), 4 * MiB, 64 * 1024);

  const verified = backy(['-b', job, 'verify', '-r', broken]);
  assert.equal(verified.status, 1, verified.stderr);
  assert.equal(verified.stdout, `revision ${broken} is damaged: the chunk at offset ${4 * MiB} cannot be read (input/output error)\n`);
  assert.equal(readRevisionYaml(job, broken).trust, 'distrusted');

  const target = join(dir, 'restored.img');
  assertOneLineError(backy(['-b', job, 'restore', '-r', broken, target]), new RegExp(`^backy: restore to ${target} failed: input/output error$`), 'restore of the unreadable revision');
  assert.ok(!existsSync(target), 'no half-restored file');

  writeFileSync(source, randomBytes(6 * MiB));
  const result = backy(['-b', job, 'backup', 'daily']);
  assert.equal(result.status, 0, result.stderr);
  const made = revisionIds(job).find((id) => id !== first && id !== broken)!;
  assert.equal(readRevisionYaml(job, made).parent, '', 'a full backup, not made from the damaged revision');
  assert.equal(backy(['-b', job, 'restore', target]).status, 0);
  assert.ok(sameBytes(target, source), 'the new revision restores byte for byte');
  rmSync(target);
  assert.equal(backy(['-b', job, 'restore', '-r', first, target]).status, 0);
  assert.ok(sameBytes(target, firstCopy), 'the older revision restores byte for byte');
});
