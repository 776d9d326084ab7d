/**
 * The cow store against what an operator's machine may hold: a backup run
 * by a user other than root, a directory under a revision's name; on a
 * real btrfs where revisions are reflink clones of their parents.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { backy, BACKY_MAIN } from '../helpers/cli.js';
import { readRevisionYaml, revisionIds, sameBytes, writeAt } from '../helpers/job-files.js';
import { mountLoopFilesystem, type LoopFilesystem } from '../helpers/loop-fs.js';

const MiB = 1024 * 1024;
/** nobody:nogroup on Debian. */
const NOBODY = 65534;

let fs: LoopFilesystem;
before(() => {
  fs = mountLoopFilesystem('btrfs', '256M');
  // The mountpoint's parent is a private temporary directory: others must reach the job through it.
  chmodSync(dirname(fs.path), 0o755);
});
after(() => fs?.dispose());

function asNobody(args: string[]) {
  const result = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, BACKY_MAIN, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('cow store', () => {
  it('an incomplete revision whose image is a directory: the next backup succeeds and leaves the directory alone', () => {
    const dir = join(fs.path, 'directory-image');
    mkdirSync(dir);
    const source = join(dir, 'vm.img');
    writeFileSync(source, randomBytes(MiB));
    const job = join(dir, 'job');
    assert.equal(backy(['-b', job, 'init', 'file', source]).status, 0);
    assert.equal(backy(['-b', job, 'backup', 'daily']).status, 0);
    const [first] = revisionIds(job);
    // As a backup killed at once leaves its .rev (no duration yet), with an operator's directory where its image would be.
    const stranger = 'ABCDEFGHJKLMNPQRSTUVWX';
    writeFileSync(join(job, `${stranger}.rev`), `uuid: ${stranger}\ntimestamp: 2026-01-01T00:00:00.000Z\nparent: ${first}\ntags:\n  - daily\nstats: {}\n`);
    mkdirSync(join(job, stranger));
    writeFileSync(join(job, stranger, 'notes.txt'), 'mine');
    const result = backy(['-b', job, 'backup', 'daily']);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(readFileSync(join(job, stranger, 'notes.txt'), 'utf8'), 'mine');
    assert.equal(existsSync(join(job, `${stranger}.rev`)), false);
    assert.equal(revisionIds(job).length, 2);
  });


  it('incremental backups by a user other than root succeed and restore the source', () => {
    const dir = join(fs.path, 'unprivileged');
    mkdirSync(dir);
    chownSync(dir, NOBODY, NOBODY);
    const source = join(dir, 'vm.img');
    writeFileSync(source, randomBytes(2 * MiB));
    chownSync(source, NOBODY, NOBODY);
    const job = join(dir, 'job');
    assert.equal(asNobody(['-b', job, 'init', 'file', source]).status, 0);
    for (let i = 0; i < 3; i++) {
      writeAt(source, i * 65536, randomBytes(65536));
      const result = asNobody(['-b', job, 'backup', 'daily']);
      assert.equal(result.status, 0, `backup ${i}: ${result.stderr}`);
    }
    const ids = revisionIds(job);
    assert.equal(ids.length, 3);
    assert.deepEqual(ids.map((id) => readRevisionYaml(job, id).stats.clone).sort(), ['empty', 'reflink', 'reflink']);
    const verified = asNobody(['-b', job, 'verify', '--all']);
    assert.equal(verified.status, 0, verified.stderr);
    const target = join(dir, 'restored.img');
    const restored = backy(['-b', job, 'restore', target]);
    assert.equal(restored.status, 0, restored.stderr);
    assert.ok(sameBytes(target, source));
    // root verifying the user's job (an admin by hand) leaves the rewritten .rev files the user's.
    const byRoot = backy(['-b', job, 'verify', '--all']);
    assert.equal(byRoot.status, 0, byRoot.stderr);
    for (const id of ids) assert.equal(statSync(join(job, `${id}.rev`)).uid, NOBODY, `${id}.rev after root's verify`);
    // On the same btrfs a restore is a reflink clone of the read-only image, which the user must still be able to lock.
    const own = join(dir, 'restored-by-nobody.img');
    const byNobody = asNobody(['-b', job, 'restore', own]);
    assert.equal(byNobody.status, 0, byNobody.stderr);
    assert.ok(sameBytes(own, source));
  });
});
