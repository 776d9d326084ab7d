/**
 * `backy gc` on a chunk pool among hostile files: what lies in job
 * directories and in the pool is anyone's to put there, and a collection
 * must neither hang nor fail on it, nor delete a chunk a revision needs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';

const MiB = 1024 * 1024;

function ok(args: string[]) {
  const result = backy(args, { timeoutMs: 30_000 });
  assert.equal(result.status, 0, `backy ${args.join(' ')} failed: ${result.stderr}`);
  return result;
}

/** A chunk no revision names, old enough for any collection to take. */
function orphanChunk(pool: string): void {
  const name = 'ff'.repeat(32);
  const path = join(pool, 'chunks', 'ff', name);
  writeFileSync(path, randomBytes(100));
  utimesSync(path, new Date(0), new Date(0));
}

describe('garbage collection among hostile files', () => {
  let root: string;
  let counter = 0;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'backy-gc-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const job = (): string => {
    const path = join(root, `job-${counter++}`);
    mkdirSync(path);
    writeFileSync(`${path}.img`, randomBytes(MiB));
    writeFileSync(join(path, 'config'), `type: file\nfilename: ${path}.img\nstore: chunked\n`);
    ok(['-b', path, 'backup', 'daily']);
    return path;
  };

  it('passes over a FIFO, a directory and a link to /dev/zero named like an index, instead of hanging or failing', () => {
    const path = job();
    mkfifo(join(path, 'fifo.index'));
    mkdirSync(join(path, 'directory.index'));
    symlinkSync('/dev/zero', join(path, 'zero.index'));
    symlinkSync('/dev/zero', join(path, '.pending.index.tmp'));
    orphanChunk(join(path, 'chunks'));
    const result = backy(['-b', path, 'gc'], { timeoutMs: 20_000 });
    assert.equal(result.signal, null, 'gc hung');
    assert.equal(result.stderr, '');
    assert.equal(result.status, 0);
    assert.match(result.stdout, /INFO garbage collection of .*: 1 chunks deleted \(\d+ bytes\), 16 kept, 1 indexes read\n/);
    ok(['-b', path, 'verify']);
  });

  it('a link in the writers directory is no backup writing: it does not stop every collection', () => {
    const path = job();
    const pool = join(path, 'chunks');
    symlinkSync('/nonexistent', join(pool, 'writers', 'dangling'));
    symlinkSync(join(pool, 'pool'), join(pool, 'writers', 'to-a-file'));
    orphanChunk(pool);
    assert.match(ok(['-b', path, 'gc']).stdout, /INFO 1 chunks deleted, [\d.]+ \w+ freed; 16 chunks in use\n/);
    ok(['-b', path, 'verify']);
  });

  it('a registration a backup killed while it made it left goes once an hour old; a fresh one and what is not one stay', () => {
    const path = job();
    const writers = join(path, 'chunks', 'writers');
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    const stale = join(writers, `.${'ab'.repeat(12)}.tmp`);
    const fresh = join(writers, `.${'cd'.repeat(12)}.tmp`);
    const foreign = join(writers, '.notes.tmp');
    for (const file of [stale, fresh, foreign]) writeFileSync(file, 'started: 0\n');
    for (const file of [stale, foreign]) utimesSync(file, old, old);
    ok(['-b', path, 'gc']);
    assert.deepEqual(readdirSync(writers).sort(), [`.${'cd'.repeat(12)}.tmp`, '.notes.tmp']);
    ok(['-b', path, 'verify']);
  });

  it('a stripe directory deleted by hand: the others are collected, and the next backup makes it again, with the chunks it held', () => {
    const path = job();
    const pool = join(path, 'chunks');
    // A stripe that holds one of the revision's chunks: the revision is damaged, and the backup's source still has the block.
    const stripe = readdirSync(join(pool, 'chunks')).find((name) => readdirSync(join(pool, 'chunks', name)).length > 0)!;
    rmSync(join(pool, 'chunks', stripe), { recursive: true, force: true });
    orphanChunk(pool);
    const result = backy(['-b', path, 'gc'], { timeoutMs: 20_000 });
    assert.equal(result.stderr, '');
    assert.equal(result.status, 0);
    assert.match(result.stdout, /INFO 1 chunks deleted, /);
    const first = readdirSync(path).find((name) => /^[0-9A-Za-z]{22}\.rev$/.test(name))!.slice(0, -4);
    const backup = ok(['-b', path, 'backup', 'daily']);
    assert.match(backup.stdout, new RegExp(`WARN revision ${first} is now distrusted: it shares a chunk that was found damaged\n`));
    assert.match(backup.stdout, /its chunk [0-9a-f]{64} is missing from the pool; making a full backup from the source instead\n/);
    assert.ok(statSync(join(pool, 'chunks', stripe)).isDirectory());
    assert.match(ok(['-b', path, 'status']).stdout, new RegExp(`${first} .* daily \\[distrusted\\]`));
    ok(['-b', path, 'restore', '-r', 'last', join(root, 'restored.img')]);
    assert.deepEqual(readFileSync(join(root, 'restored.img')), readFileSync(`${path}.img`));
    ok(['-b', path, 'verify', '-r', 'last']);
  });

  it('a writers directory deleted by hand stops the collection with one line, until the next backup makes it again', () => {
    const path = job();
    const pool = join(path, 'chunks');
    rmSync(join(pool, 'writers'), { recursive: true });
    orphanChunk(pool);
    const result = backy(['-b', path, 'gc'], { timeoutMs: 20_000 });
    assert.equal(result.status, 1);
    assert.equal(result.stderr, `backy: garbage collection stopped, nothing deleted: the pool's writers directory ${join(pool, 'writers')} is missing (the next backup makes it again)\n`);
    ok(['-b', path, 'backup', 'daily']);
    assert.match(ok(['-b', path, 'gc']).stdout, /INFO 1 chunks deleted, /);
  });

  it('a job directory linked from the base directory that cannot be reached (its filesystem not mounted): nothing is collected', () => {
    const base = join(root, `base-${counter++}`);
    const elsewhere = join(root, `elsewhere-${counter}`);
    mkdirSync(join(elsewhere, 'vm'), { recursive: true });
    mkdirSync(base);
    symlinkSync(join(elsewhere, 'vm'), join(base, 'vm'));
    writeFileSync(join(root, `${counter}.img`), randomBytes(MiB));
    writeFileSync(join(base, 'vm', 'config'), `type: file\nfilename: ${join(root, `${counter}.img`)}\nstore: chunked\nchunk_pool: shared\n`);
    ok(['-b', join(base, 'vm'), 'backup', 'daily']);
    const conf = join(root, `${counter}.conf`);
    writeFileSync(conf, `global:\n  base-dir: ${base}\nschedules:\n  default:\n    daily: {interval: 1d, keep: 2}\njobs: {}\n`);
    const chunks = () => readdirSync(join(base, '.chunks', 'chunks'), { recursive: true }).length;
    const before = chunks();

    execFileSync('mv', [elsewhere, `${elsewhere}-unmounted`]);
    const gc = backy(['-c', conf, 'gc'], { timeoutMs: 20_000 });
    assert.equal(gc.status, 1);
    assert.equal(
      gc.stderr,
      `backy: garbage collection stopped, nothing deleted: cannot reach ${join(base, 'vm')}: ENOENT: no such file or directory, stat '${join(base, 'vm')}'; mount or remove it\n`,
    );
    assert.equal(chunks(), before, 'chunks of the unreachable job were deleted');

    execFileSync('mv', [`${elsewhere}-unmounted`, elsewhere]);
    ok(['-c', conf, 'gc']);
    ok(['-b', join(base, 'vm'), 'verify']);
  });

  it("a file or a FIFO where the base directory's pool would be is one line naming it, for gc and for backups", () => {
    const base = join(root, `base-${counter++}`);
    mkdirSync(join(base, 'vm'), { recursive: true });
    writeFileSync(join(base, 'vm.img'), randomBytes(MiB));
    writeFileSync(join(base, 'vm', 'config'), `type: file\nfilename: ${join(base, 'vm.img')}\nstore: chunked\nchunk_pool: shared\n`);
    const conf = join(root, `${counter}.conf`);
    writeFileSync(conf, `global:\n  base-dir: ${base}\nschedules:\n  default:\n    daily: {interval: 1d, keep: 2}\njobs: {}\n`);
    const line = `${join(base, '.chunks')} cannot be a chunk pool: it, or a directory above it, is a file of another kind`;
    for (const make of [() => writeFileSync(join(base, '.chunks'), ''), () => mkfifo(join(base, '.chunks'))]) {
      make();
      const gc = backy(['-c', conf, 'gc'], { timeoutMs: 20_000 });
      assert.equal(gc.status, 1);
      assert.equal(gc.stderr, `backy: ${line}\n`);
      const backup = backy(['-b', join(base, 'vm'), 'backup', 'daily'], { timeoutMs: 20_000 });
      assert.equal(backup.status, 1);
      assert.match(backup.stderr, new RegExp(`^backy: ${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n$`));
      rmSync(join(base, '.chunks'));
    }
  });
});

function mkfifo(path: string): void {
  execFileSync('mkfifo', [path]);
}
