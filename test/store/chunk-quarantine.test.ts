/**
 * A damaged chunk found by a read is moved out of the pool and noted, even
 * where the pool's damaged directory was deleted by hand: the revisions
 * naming it are distrusted, and the next backup heals it. A note no index
 * needs any more goes at the next garbage collection. A read that found
 * the chunk damaged before a backup healed it leaves the healed one alone.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { resume, stoppedAt, untilStopped } from '../helpers/traced.js';
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

/** A job of its own pool backed up once from a random 1 MiB image, then the chunk of its first block overwritten. */
function backedUpWithItsFirstChunkDamaged(jobName: string) {
  const job = join(root, jobName);
  const source = join(root, `${jobName}.img`);
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
  return { job, image, id: id!, name, chunk };
}

it('a chunk found damaged is quarantined though the damaged directory was deleted, and the next backup heals it', () => {
  const { job, image, id, name, chunk } = backedUpWithItsFirstChunkDamaged('job');
  rmSync(join(job, 'chunks', 'damaged'), { recursive: true });

  const restore = backy(['-b', job, 'restore', join(root, 'restored.img')], { timeoutMs: 30_000 });
  assert.equal(restore.status, 1);
  assert.match(restore.stderr, new RegExp(`block at offset 0 does not match its recorded hash \\(chunk ${name} is damaged\\)`));
  assert.ok(!existsSync(chunk), 'the damaged chunk is out of the pool');
  assert.ok(existsSync(join(job, 'chunks', 'damaged', name)));

  // The restore distrusted the revision it found damaged; the next backup is a full one, which heals the pool.
  assert.match(restore.stdout, new RegExp(`WARN revision ${id} is now distrusted: block at offset 0 does not match its recorded hash`));
  const healing = ok(['-b', job, 'backup', 'daily']);
  assert.match(healing.stdout, new RegExp(`WARN revision ${id} is distrusted \\(damaged\\): this backup is a full one`));
  ok(['-b', job, 'restore', join(root, 'healed.img')]);
  assert.ok(readFileSync(join(root, 'healed.img')).equals(image));
});

/** Damages the chunk of the revision's first block, and has a restore find it; its name. */
function damageFirstChunk(job: string, pool: string): string {
  const [id] = revisionIds(job);
  const name = readFileSync(join(job, `${id}.index`)).subarray(32, 64).toString('hex');
  const chunk = join(pool, 'chunks', name.slice(0, 2), name);
  chmodSync(chunk, 0o640);
  writeFileSync(chunk, randomBytes(65536));
  assert.equal(backy(['-b', job, 'restore', join(root, 'damaged.img')], { timeoutMs: 30_000 }).status, 1);
  assert.ok(existsSync(join(pool, 'damaged', name)));
  return name;
}

it('gc deletes the notes of damaged chunks that no index names any more, and keeps the others', () => {
  const base = join(root, 'base');
  mkdirSync(base);
  const conf = join(root, 'scheduler.conf');
  writeFileSync(conf, `global:\n  base-dir: ${base}\nschedules:\n  default:\n    daily: {interval: 1d, keep: 2}\njobs: {}\n`);
  const pool = join(base, '.chunks');
  const [kept, deleted] = ['kept', 'deleted'].map((name) => {
    const job = join(base, name);
    mkdirSync(job);
    writeFileSync(join(root, `${name}.img`), randomBytes(1024 * 1024));
    writeFileSync(join(job, 'config'), `type: file\nfilename: ${join(root, `${name}.img`)}\nstore: chunked\nchunk_pool: shared\n`);
    ok(['-b', job, 'backup', 'daily']);
    return job;
  });
  const stillNamed = damageFirstChunk(kept!, pool);
  const namedByNone = damageFirstChunk(deleted!, pool);
  rmSync(deleted!, { recursive: true });
  // Older than any collection's margin, as they would be by the next day's.
  for (const name of [stillNamed, namedByNone]) utimesSync(join(pool, 'damaged', name), new Date(0), new Date(0));

  ok(['-c', conf, 'gc']);
  assert.deepEqual(readdirSync(join(pool, 'damaged')), [stillNamed]);
  assert.ok(!existsSync(join(pool, 'damaged', namedByNone)));
  // The revision that names the one kept is distrusted (by the restore that found it), and healed, as before.
  const [damaged] = revisionIds(kept!);
  const healing = ok(['-b', kept!, 'backup', 'daily']);
  assert.match(healing.stdout, new RegExp(`WARN revision ${damaged} is distrusted \\(damaged\\): this backup is a full one`));
  ok(['-b', kept!, 'restore', join(root, 'kept-restored.img')]);
  assert.ok(readFileSync(join(root, 'kept-restored.img')).equals(readFileSync(join(root, 'kept.img'))));
});

it('a read that found a chunk damaged moves it aside only while it is the damaged one: a chunk a backup healed meanwhile stays', async () => {
  const { job, image, name, chunk } = backedUpWithItsFirstChunkDamaged('raced');

  // A restore held (SIGSTOP) where it has read the damaged chunk and its quarantine begins (by making sure of the
  // damaged directory), while another restore quarantines the chunk and a backup heals it.
  const held = stoppedAt(root, 'mkdir,mkdirat', ['-b', job, 'restore', join(root, 'raced-slow.img')], { paths: [join(job, 'chunks', 'damaged')] });
  const pid = await untilStopped(held, 'the held restore to reach its quarantine');
  assert.equal(backy(['-b', job, 'restore', join(root, 'raced-fast.img')], { timeoutMs: 30_000 }).status, 1);
  assert.ok(!existsSync(chunk), 'the damaged chunk is out of the pool');
  const healing = ok(['-b', job, 'backup', 'daily']);
  assert.match(healing.stdout, /this backup is a full one/);
  assert.ok(existsSync(chunk), 'the backup wrote the chunk again');

  const slow = await resume(held, pid);
  assert.equal(slow.code, 1);
  assert.match(slow.stderr, new RegExp(`chunk ${name} is damaged`));
  assert.ok(existsSync(chunk), 'the healed chunk is still in the pool');
  ok(['-b', job, 'verify']);
  ok(['-b', job, 'restore', join(root, 'raced-healed.img')]);
  assert.ok(readFileSync(join(root, 'raced-healed.img')).equals(image));
});

it("a link or a file in place of the pool's damaged or stripe directory: the read reports the damage, and nothing is moved or noted where it points", () => {
  const { job, image, name, chunk } = backedUpWithItsFirstChunkDamaged('linked');
  const pool = join(job, 'chunks');
  const damaged = join(pool, 'damaged');
  const elsewhere = join(root, 'linked-elsewhere');
  mkdirSync(elsewhere);
  const damageFound = (result: { status: number | null; stdout: string; stderr: string }) => {
    assert.equal(result.status, 1);
    assert.match(result.stdout + result.stderr, /block at offset 0 does not match its recorded hash/);
    assert.doesNotMatch(result.stderr, /ENOTDIR|EISDIR/);
  };

  rmSync(damaged, { recursive: true });
  symlinkSync(elsewhere, damaged);
  damageFound(backy(['-b', job, 'verify'], { timeoutMs: 30_000 }));
  assert.deepEqual(readdirSync(elsewhere), [], 'nothing moved where the damaged directory links to');
  assert.ok(existsSync(chunk), 'the damaged chunk stays where it is');

  rmSync(damaged);
  writeFileSync(damaged, 'not a directory\n');
  damageFound(backy(['-b', job, 'restore', join(root, 'linked.img')], { timeoutMs: 30_000 }));
  assert.equal(readFileSync(damaged, 'utf8'), 'not a directory\n');
  // Backups refuse such a pool with one line.
  const refused = backy(['-b', job, 'backup', 'daily'], { timeoutMs: 30_000 });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, new RegExp(`^backy: ${damaged} is not a directory of the chunk pool \\(a link or another kind of file\\): nothing is written there\\n$`, 'm'));

  // A stripe linked to a directory holding a file under the chunk's name: that file is read (and fails its proof), never moved.
  rmSync(damaged);
  mkdirSync(damaged);
  const stripe = join(pool, 'chunks', name.slice(0, 2));
  const outside = join(elsewhere, name);
  writeFileSync(outside, 'not this chunk\n');
  rmSync(stripe, { recursive: true });
  symlinkSync(elsewhere, stripe);
  damageFound(backy(['-b', job, 'verify'], { timeoutMs: 30_000 }));
  assert.equal(readFileSync(outside, 'utf8'), 'not this chunk\n', 'the file where the stripe links to stays');
  assert.deepEqual(readdirSync(damaged), []);

  // Once the pool is its own again, the next backup heals it.
  rmSync(stripe);
  ok(['-b', job, 'backup', 'daily']);
  ok(['-b', job, 'restore', join(root, 'linked-healed.img')]);
  assert.ok(readFileSync(join(root, 'linked-healed.img')).equals(image));
});

it('a file in place of a stripe directory: its chunks read as missing (damage, not an ENOTDIR failure), status still lists the revisions', () => {
  const { job, image, id, name } = backedUpWithItsFirstChunkDamaged('stripe-file');
  const stripe = join(job, 'chunks', 'chunks', name.slice(0, 2));
  rmSync(stripe, { recursive: true });
  writeFileSync(stripe, 'not a directory\n');

  const verified = backy(['-b', job, 'verify'], { timeoutMs: 30_000 });
  assert.equal(verified.status, 1);
  assert.match(verified.stdout, new RegExp(`revision ${id} is damaged: block at offset 0`));
  assert.doesNotMatch(verified.stderr, /ENOTDIR/);
  const restored = backy(['-b', job, 'restore', join(root, 'stripe-file.img')], { timeoutMs: 30_000 });
  assert.equal(restored.status, 1);
  assert.match(restored.stderr, new RegExp(`its chunk ${name} is missing from the pool`));
  const status = backy(['-b', job, 'status'], { timeoutMs: 30_000 });
  assert.equal(status.status, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`${id} .*\\[distrusted\\]`));

  rmSync(stripe);
  ok(['-b', job, 'backup', 'daily']);
  ok(['-b', job, 'restore', join(root, 'stripe-file-healed.img')]);
  assert.ok(readFileSync(join(root, 'stripe-file-healed.img')).equals(image));
});
