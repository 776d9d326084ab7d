/**
 * Recorded hashes that cannot be relied on: verifications of one revision at
 * once, restores of revisions whose hash record cannot be used, and what
 * `verify --all` and `status --json` say about unreadable revisions.
 * Real processes on a real btrfs; where an ordering between two processes
 * matters it is forced by stopping one at a chosen system call (strace's
 * fault injection), never by timing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { backy } from '../helpers/cli.js';
import { readRevisionYaml, revisionIds, sameBytes, writeAt } from '../helpers/job-files.js';
import { resume, stoppedAt, untilStopped } from '../helpers/traced.js';
import { mountLoopFilesystem, type LoopFilesystem } from '../helpers/loop-fs.js';
import { after, before } from 'node:test';

const MiB = 1024 * 1024;
let fs: LoopFilesystem;
before(() => {
  fs = mountLoopFilesystem('btrfs', '384M');
});
after(() => fs?.dispose());
let counter = 0;

interface Job {
  dir: string;
  job: string;
  source: string;
  ids: string[];
}

function job(revisions = 2, size = 4 * MiB): Job {
  const dir = join(fs.path, `fallbacks-${counter++}`);
  mkdirSync(dir);
  const source = join(dir, 'vm.img');
  writeFileSync(source, randomBytes(size));
  const path = join(dir, 'job');
  assert.equal(backy(['-b', path, 'init', 'file', source]).status, 0);
  const ids: string[] = [];
  for (let i = 0; i < revisions; i++) {
    writeAt(source, MiB + i * 65536, randomBytes(65536));
    const known = new Set(revisionIds(path));
    const result = backy(['-b', path, 'backup', 'daily']);
    assert.equal(result.status, 0, result.stderr);
    ids.push(revisionIds(path).find((id) => !known.has(id))!);
  }
  return { dir, job: path, source, ids };
}

/** As the previous release or backy 2.0 left a revision: no `hashes` in its .rev, no record. */
function forgetHashes(j: Job, id: string): void {
  const path = join(j.job, `${id}.rev`);
  const data = YAML.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  delete data.hashes;
  delete data.verified;
  rmSync(path);
  writeFileSync(path, YAML.stringify(data));
  rmSync(join(j.job, `${id}.hashes`));
}

describe('recorded hashes', () => {
  it('two verifications of a revision without recorded hashes, one overtaking the other: both succeed and the record proves itself', async () => {
    const j = job(1);
    const id = j.ids[0]!;
    forgetHashes(j, id);
    // The first has written its whole record and is about to make it read-only and move it into place.
    const first = stoppedAt(fs.path, 'chmod,fchmodat', ['-b', j.job, 'verify', '-r', id]);
    const pid = await untilStopped(first, 'the first verification to stop before it moves its record into place');
    const second = backy(['-b', j.job, 'verify', '-r', id]);
    assert.equal(second.status, 0, second.stderr);
    const result = await resume(first, pid);
    assert.equal(result.code, 0, `the first verification: ${result.stderr}`);
    const again = backy(['-b', j.job, 'verify', '-r', id]);
    assert.equal(again.status, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /verified/);
  });

  it('a verification killed while another one records the same hashes leaves a record that proves itself', async () => {
    const j = job(1);
    const id = j.ids[0]!;
    forgetHashes(j, id);
    const first = stoppedAt(fs.path, 'chmod,fchmodat', ['-b', j.job, 'verify', '-r', id]);
    const firstPid = await untilStopped(first, 'the first verification to stop before it moves its record into place');
    // The second has just replaced the first's pending record with its own, still empty one.
    const second = stoppedAt(fs.path, 'ftruncate', ['-b', j.job, 'verify', '-r', id]);
    const secondPid = await untilStopped(second, 'the second verification to stop as it sizes its record');
    const done = await resume(first, firstPid);
    // The operator's Ctrl-C or the scheduler's stop, as the second one ran.
    process.kill(secondPid, 'SIGKILL');
    await second.exited;
    const check = backy(['-b', j.job, 'verify', '-r', id]);
    assert.equal(check.status, 0, `after the first verification said ${JSON.stringify(done.stdout + done.stderr)}, verify says ${JSON.stringify(check.stdout)}`);
  });

  it("a revision whose image and hash record were both replaced by another revision's is not restored as if it were itself", () => {
    const j = job(2);
    const [older, newer] = j.ids as [string, string];
    const expected = join(j.dir, 'older-before.img');
    copyFileSync(join(j.job, older), expected);
    for (const suffix of ['', '.hashes']) {
      rmSync(join(j.job, `${older}${suffix}`));
      copyFileSync(join(j.job, `${newer}${suffix}`), join(j.job, `${older}${suffix}`));
    }
    const target = join(j.dir, 'restored.img');
    const restore = backy(['-b', j.job, 'restore', '-r', older, target]);
    assert.notEqual(restore.status, 0, `restore exited 0 with another revision's bytes (stderr: ${restore.stderr})`);
    assert.ok(!existsSync(target), 'no restored file that looks complete');
  });

  it('a revision whose .rev records hashes but whose record is gone is not restored unchecked with exit status 0', () => {
    const j = job(1);
    const id = j.ids[0]!;
    rmSync(join(j.job, `${id}.hashes`));
    // And its image rotted: nothing can tell now.
    writeAt(join(j.job, id), 2 * MiB, Buffer.from('rot'));
    const target = join(j.dir, 'restored.img');
    const restore = backy(['-b', j.job, 'restore', '-r', id, target]);
    assert.notEqual(restore.status, 0, `restore of data nothing could check exited 0 (stderr: ${restore.stderr})`);
  });

  it('a revision whose record is gone but whose bytes are intact restores, proven by the root hash in its .rev; --force keeps a damaged one with exit status 1', () => {
    const j = job(1);
    const id = j.ids[0]!;
    const expected = join(j.dir, 'expected.img');
    copyFileSync(j.source, expected);
    rmSync(join(j.job, `${id}.hashes`));
    const target = join(j.dir, 'restored.img');
    const restore = backy(['-b', j.job, 'restore', '-r', id, target]);
    assert.equal(restore.status, 0, restore.stderr);
    assert.match(restore.stdout, new RegExp(`WARN cannot check revision ${id} against its recorded hashes: its hash record is missing; proving its bytes against the root hash in its .rev instead`));
    assert.ok(sameBytes(target, expected), 'the restore is the source');
    writeAt(join(j.job, id), 2 * MiB, Buffer.from('rot'));
    const refused = backy(['-b', j.job, 'restore', '-r', id, join(j.dir, 'refused.img')]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, new RegExp(`backy: revision ${id} does not match the root hash in its .rev: its data is damaged or not this revision's; nothing was restored to \\S+refused\\.img \\(--force writes it anyway\\)`));
    assert.ok(!existsSync(join(j.dir, 'refused.img')));
    const forced = backy(['-b', j.job, 'restore', '--force', '-r', id, join(j.dir, 'forced.img')]);
    assert.equal(forced.status, 1);
    assert.match(forced.stderr, /restored to \S+forced\.img anyway \(--force\)/);
    assert.ok(existsSync(join(j.dir, 'forced.img')), 'under --force the bytes are written all the same');
  });

  it('a revision whose .rev block size is damaged, and whose image rotted, is refused with one line, not restored unchecked', () => {
    const j = job(1);
    const id = j.ids[0]!;
    const rev = join(j.job, `${id}.rev`);
    const text = readFileSync(rev, 'utf8');
    rmSync(rev);
    writeFileSync(rev, text.replace(/block_size: 65536/, 'block_size: 65537'));
    writeAt(join(j.job, id), 2 * MiB, Buffer.from('rot'));
    const target = join(j.dir, 'restored.img');
    const restore = backy(['-b', j.job, 'restore', '-r', id, target]);
    assert.equal(restore.status, 1, `restore exited ${restore.status} (stderr: ${restore.stderr})`);
    assert.match(restore.stderr, new RegExp(`^backy: revision ${id} is unreadable: hashes\\.block_size: .*\n$`));
    assert.ok(!existsSync(target), 'nothing restored');
  });

  it('a distrusted revision whose record is gone is not restored with exit status 0', () => {
    const j = job(1);
    const id = j.ids[0]!;
    writeAt(join(j.job, id), 2 * MiB, Buffer.from('rot'));
    assert.equal(backy(['-b', j.job, 'verify', '-r', id]).status, 1);
    assert.equal(readRevisionYaml(j.job, id).trust, 'distrusted');
    rmSync(join(j.job, `${id}.hashes`));
    const restore = backy(['-b', j.job, 'restore', '-r', id, join(j.dir, 'restored.img')]);
    assert.notEqual(restore.status, 0, `a revision known to be damaged restored with exit 0 (stderr: ${restore.stderr})`);
  });

  it('verify --all goes on past a revision whose hash record cannot be put in place', () => {
    const j = job(2);
    forgetHashes(j, j.ids[0]!);
    mkdirSync(join(j.job, `${j.ids[0]}.hashes`));
    const result = backy(['-b', j.job, 'verify', '--all']);
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stdout, new RegExp(`^revision ${j.ids[0]} could not be verified: its hash record could not be written: .*$`, 'm'));
    assert.match(result.stdout, new RegExp(`^revision ${j.ids[1]} verified: `, 'm'), 'the next revision is verified all the same');
  });

  it('verify --all does not exit 0 while a revision could not be verified because its .rev is unreadable', () => {
    const j = job(2);
    const path = join(j.job, `${j.ids[1]}.rev`);
    const text = readFileSync(path, 'utf8');
    rmSync(path);
    writeFileSync(path, `${text}garbage: [\n`);
    const result = backy(['-b', j.job, 'verify', '--all']);
    assert.equal(result.status, 1, `verify --all: ${result.stdout}`);
  });

  it('status --json lists an unreadable revision, as the table does', () => {
    const j = job(2);
    const path = join(j.job, `${j.ids[1]}.rev`);
    const text = readFileSync(path, 'utf8');
    rmSync(path);
    writeFileSync(path, `${text}garbage: [\n`);
    assert.match(backy(['-b', j.job, 'status']).stdout, new RegExp(`${j.ids[1]} .*\\[unreadable \\.rev\\]`));
    const json = backy(['-b', j.job, 'status', '--json']);
    assert.equal(json.status, 0, json.stderr);
    assert.ok(json.stdout.includes(j.ids[1]!), `status --json hides revision ${j.ids[1]}: ${json.stdout}`);
  });
});
