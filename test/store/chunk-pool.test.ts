/**
 * A chunk pool shared by the jobs of one base directory, through the real
 * `backy` command: deduplication across jobs, a chunk damaged by hand and
 * the backup that heals it, a deleted job directory whose space the next
 * garbage collection returns, and backups, retention and collections of
 * one pool running at once, killed at random points, after which every
 * remaining revision verifies and restores byte for byte.
 *
 * STRESS_ROUNDS (default 6) sets how often the concurrent round runs; the
 * long run is `STRESS_ROUNDS=1000 node --test dist/test/store/chunk-pool.test.js`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backy, backyAsync } from '../helpers/cli.js';
import { readRevisionYaml, revisionIds, writeAt } from '../helpers/job-files.js';
import { mountLoopFilesystem, type LoopFilesystem } from '../helpers/loop-fs.js';
import { MARGIN_MS } from '../../src/store/chunked/garbage-collection.js';
import { JobDirectory } from '../../src/job/job-directory.js';
import { expireRevisions } from '../../src/scheduler/retention-apply.js';
import { silentLogger } from '../../src/util/logger.js';
import { systemClock } from '../../src/util/clock.js';

const MiB = 1024 * 1024;
const BLOCK = 64 * 1024;
const ROUNDS = Number(process.env.STRESS_ROUNDS ?? 6);

function ok(args: string[]) {
  const result = backy(args);
  assert.equal(result.status, 0, `backy ${args.join(' ')} failed: ${result.stderr}`);
  return result;
}

/** Every chunk file of the pool (name -> path). */
function chunkFiles(pool: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const stripe of readdirSync(join(pool, 'chunks'))) {
    for (const name of readdirSync(join(pool, 'chunks', stripe))) if (!name.startsWith('.')) files.set(name, join(pool, 'chunks', stripe, name));
  }
  return files;
}

function poolBytes(pool: string): number {
  let total = 0;
  for (const path of chunkFiles(pool).values()) total += statSync(path).blocks * 512;
  return total;
}

describe('a chunk pool shared by the jobs of a base directory', () => {
  let fs: LoopFilesystem;
  let base: string;
  let sources: string;
  let conf: string;
  let counter = 0;
  before(() => {
    fs = mountLoopFilesystem('ext4', '1G');
  });
  after(() => fs.dispose());

  /** A fresh base directory with a scheduler configuration naming it, and `count` chunked jobs sharing its pool. */
  const setup = (count: number): string[] => {
    base = join(fs.path, `base-${counter}`);
    sources = join(fs.path, `sources-${counter++}`);
    mkdirSync(base);
    mkdirSync(sources);
    conf = join(base, '..', `${counter}.conf`);
    writeFileSync(conf, `global:\n  base-dir: ${base}\nschedules:\n  default:\n    daily: {interval: 1d, keep: 2}\njobs: {}\n`);
    return Array.from({ length: count }, (_, i) => {
      const job = join(base, `vm${i}`);
      mkdirSync(job);
      writeFileSync(join(job, 'config'), `type: file\nfilename: ${join(sources, `vm${i}.img`)}\nstore: chunked\nchunk_pool: shared\n`);
      return job;
    });
  };
  const pool = () => join(base, '.chunks');

  it('stores a template cloned into several jobs once, and heals a chunk damaged by hand', () => {
    const jobs = setup(3);
    const template = randomBytes(8 * MiB);
    for (const [i] of jobs.entries()) {
      const clone = Buffer.from(template);
      randomBytes(BLOCK).copy(clone, i * BLOCK); // each clone changed in one block of its own
      writeFileSync(join(sources, `vm${i}.img`), clone);
    }
    for (const job of jobs) ok(['-b', job, 'backup', 'daily']);
    // The template's 128 blocks once, and each clone's own block: the second job also adds the template's
    // block 0, which the first clone replaced; the third finds its block 1 there.
    assert.equal(chunkFiles(pool()).size, 128 + 3);
    assert.deepEqual(jobs.map((job) => readRevisionYaml(job, revisionIds(job)[0]!).stats.chunks_added), [128, 2, 1]);

    // A chunk the three share is changed on disk.
    const shared = readFileSync(join(jobs[0]!, `${revisionIds(jobs[0]!)[0]}.index`)).subarray(32 + 5 * 32, 32 + 6 * 32).toString('hex');
    const path = chunkFiles(pool()).get(shared)!;
    const bytes = readFileSync(path);
    bytes[100] ^= 1;
    writeFileSync(path, bytes);

    const verified = backy(['-b', jobs[0]!, 'verify']);
    assert.equal(verified.status, 1);
    assert.match(verified.stdout, new RegExp(`^revision \\S+ is damaged: block at offset ${5 * BLOCK} does not match its recorded hash\\n$`));
    assert.equal(readRevisionYaml(jobs[0]!, revisionIds(jobs[0]!)[0]!).trust, 'distrusted');
    assert.ok(!existsSync(path), 'the damaged chunk is out of the pool');
    assert.ok(existsSync(join(pool(), 'damaged', shared)), 'and kept aside');

    // The next backup of another job that shares it distrusts its revision and writes the block again.
    const healing = ok(['-b', jobs[1]!, 'backup', 'daily']);
    assert.match(healing.stdout, /WARN revision \S+ is now distrusted: it shares a chunk that was found damaged/);
    const [old, healed] = revisionIds(jobs[1]!).sort((a, b) => String(readRevisionYaml(jobs[1]!, a).timestamp).localeCompare(String(readRevisionYaml(jobs[1]!, b).timestamp)));
    assert.equal(readRevisionYaml(jobs[1]!, old!).trust, 'distrusted');
    assert.equal(readRevisionYaml(jobs[1]!, healed!).stats.clone, 'empty', 'a full backup, nothing inherited');
    assert.ok(readFileSync(path).equals(template.subarray(5 * BLOCK, 6 * BLOCK)), 'the chunk is back, whole');
    for (const [i, job] of jobs.entries()) {
      const target = join(fs.path, `restored-${i}.img`);
      ok(['-b', job, 'restore', target]);
      assert.ok(readFileSync(target).equals(readFileSync(join(sources, `vm${i}.img`))), `job ${i} restores`);
      rmSync(target);
    }
  });

  for (const [kind, found] of [
    ['a directory', 'verify'],
    ['a FIFO', 'backup'],
    ['a link to a file outside', 'verify'],
  ] as const) {
    it(`a chunk's name held by ${kind} is damage found by ${found}: no hang, and ${found === 'backup' ? 'that' : 'the next'} backup heals`, () => {
      const [job] = setup(1);
      const image = randomBytes(2 * MiB);
      writeFileSync(join(sources, 'vm0.img'), image);
      ok(['-b', job!, 'backup', 'daily']);
      const name = readFileSync(join(job!, `${revisionIds(job!)[0]}.index`)).subarray(32 + 3 * 32, 32 + 4 * 32).toString('hex');
      const path = chunkFiles(pool()).get(name)!;
      const outside = join(sources, 'outside');
      writeFileSync(outside, 'not a chunk');
      rmSync(path);
      if (kind === 'a directory') {
        mkdirSync(path);
        // Noted as damaged once before: the directory cannot replace that note, and goes beside it.
        writeFileSync(join(pool(), 'damaged', name), '');
      }
      else if (kind === 'a FIFO') execFileSync('mkfifo', [path]);
      else symlinkSync(outside, path);

      const [original] = revisionIds(job!);
      const result = backy(['-b', job!, found, ...(found === 'backup' ? ['daily'] : [])], { timeoutMs: 30_000 });
      assert.equal(result.signal, null, 'not a hang');
      const damage = `block at offset ${3 * BLOCK} does not match its recorded hash`;
      if (found === 'verify') {
        assert.equal(result.status, 1);
        assert.match(result.stdout, new RegExp(damage));
        assert.ok(existsSync(join(pool(), 'damaged', name)), 'moved aside');
        assert.ok(!existsSync(path) || readFileSync(path).length > 0, 'nothing but a chunk under its name');
        assert.equal(revisionIds(job!).length, 1);
        ok(['-b', job!, 'backup', 'daily']);
      } else {
        // The backup's own verification finds the block it kept from its parent damaged, and makes a full backup instead.
        assert.equal(result.status, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`WARN backup of revision \\S+ failed: ${damage} \\(chunk ${name} is damaged\\); making a full backup from the source instead\n`));
        assert.ok(existsSync(join(pool(), 'damaged', name)), 'moved aside');
        assert.equal(readRevisionYaml(job!, original!).trust, 'distrusted');
      }
      assert.equal(revisionIds(job!).length, 2, 'one revision more: no failed one left');
      assert.ok(readFileSync(path).equals(image.subarray(3 * BLOCK, 4 * BLOCK)), 'the chunk is back, a regular file');
      const target = join(fs.path, 'restored.img');
      ok(['-b', job!, 'restore', target]);
      assert.ok(readFileSync(target).equals(image));
      rmSync(target);
      assert.equal(readFileSync(outside, 'utf8'), 'not a chunk', "the link's target is untouched");
    });
  }

  it("a backup that finds a directory or a FIFO under a chunk's name it needs writes the chunk all the same", () => {
    const jobs = setup(2);
    const image = randomBytes(2 * MiB);
    writeFileSync(join(sources, 'vm0.img'), image);
    ok(['-b', jobs[0]!, 'backup', 'daily']);
    const index = readFileSync(join(jobs[0]!, `${revisionIds(jobs[0]!)[0]}.index`));
    const [first, second] = [2, 5].map((block) => index.subarray(32 + block * 32, 32 + (block + 1) * 32).toString('hex'));
    const paths = [first!, second!].map((name) => chunkFiles(pool()).get(name)!);
    rmSync(paths[0]!);
    mkdirSync(paths[0]!);
    rmSync(paths[1]!);
    execFileSync('mkfifo', [paths[1]!]);
    // The other job's first backup reads nothing of the pool before it writes.
    writeFileSync(join(sources, 'vm1.img'), image);
    const result = backy(['-b', jobs[1]!, 'backup', 'daily'], { timeoutMs: 30_000 });
    assert.equal(result.status, 0, result.stderr);
    for (const [i, path] of paths.entries()) {
      assert.ok(statSync(path).isFile(), `chunk ${i} is a file again`);
      assert.ok(readFileSync(path).equals(image.subarray([2, 5][i]! * BLOCK, ([2, 5][i]! + 1) * BLOCK)));
    }
    for (const job of jobs) {
      const target = join(fs.path, 'restored.img');
      ok(['-b', job, 'restore', target]);
      assert.ok(readFileSync(target).equals(image));
      rmSync(target);
    }
  });

  it('a pool description that is a FIFO is one line and exit 1 for every command that needs the pool, never a hang', () => {
    const [job] = setup(1);
    const image = randomBytes(MiB);
    writeFileSync(join(sources, 'vm0.img'), image);
    ok(['-b', job!, 'backup', 'daily']);
    const description = join(pool(), 'pool');
    const saved = readFileSync(description);
    rmSync(description);
    execFileSync('mkfifo', [description]);
    const target = join(fs.path, 'restored.img');
    for (const args of [['backup', 'daily'], ['verify'], ['gc'], ['restore', target]]) {
      const result = backy(['-b', job!, ...args], { timeoutMs: 30_000 });
      assert.equal(result.status, 1, `${args[0]}: exit 1, not a hang (${result.signal ?? 'exited'})`);
      assert.match(result.stdout + result.stderr, new RegExp(`${description} cannot be a chunk pool description: it is a FIFO, not a regular file\\n$`));
    }
    const status = backy(['-b', job!, 'status'], { timeoutMs: 30_000 });
    assert.equal(status.status, 0, 'status still lists the revisions');
    assert.match(status.stdout, new RegExp(`\nspace used in the chunk pool not counted: ${description} cannot be a chunk pool description: it is a FIFO, not a regular file\n$`));
    assert.equal(revisionIds(job!).length, 1, 'nothing removed');
    assert.ok(!existsSync(target));
    rmSync(description);
    writeFileSync(description, saved);
    ok(['-b', job!, 'restore', target]);
    assert.ok(readFileSync(target).equals(image));
    rmSync(target);
  });

  it('a stripe directory replaced by a link is refused (nothing written where it points); one deleted is made again and healed', () => {
    const [job] = setup(1);
    const image = randomBytes(2 * MiB);
    writeFileSync(join(sources, 'vm0.img'), image);
    ok(['-b', job!, 'backup', 'daily']);
    const name = [...chunkFiles(pool()).keys()][0]!;
    const stripe = join(pool(), 'chunks', name.slice(0, 2));
    const elsewhere = join(sources, 'elsewhere');
    mkdirSync(elsewhere);
    rmSync(stripe, { recursive: true });
    symlinkSync(elsewhere, stripe);
    writeFileSync(join(sources, 'vm0.img'), randomBytes(2 * MiB));
    const refused = backy(['-b', job!, 'backup', 'daily']);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, new RegExp(`^backy: ${stripe} is not a directory of the chunk pool \\(a link or another kind of file\\): nothing is written there\\n$`, 'm'));
    assert.deepEqual(readdirSync(elsewhere), [], 'nothing written where the link points');
    assert.equal(revisionIds(job!).length, 1);
    // Nor collected there: a file named like an unreferenced chunk of that stripe, long unused.
    const bait = join(elsewhere, `${name.slice(0, 2)}${'0'.repeat(62)}`);
    writeFileSync(bait, 'not a chunk');
    utimesSync(bait, new Date(2000, 0, 1), new Date(2000, 0, 1));
    const collected = backy(['-b', job!, 'gc']);
    assert.equal(collected.status, 1);
    assert.match(collected.stderr, /is not a directory of the chunk pool/);
    assert.ok(existsSync(bait), 'gc deleted nothing where the link points');

    rmSync(stripe);
    // A lock file in the way refuses backups with one line, and restores go on.
    const locks = join(pool(), 'locks');
    rmSync(locks);
    mkdirSync(locks);
    const locked = backy(['-b', job!, 'backup', 'daily']);
    assert.equal(locked.status, 1);
    assert.match(locked.stderr, new RegExp(`^backy: ${locks} is not the chunk pool's lock file \\(a link or another kind of file\\): nothing is written in the pool\\n$`, 'm'));
    rmSync(locks, { recursive: true });
    // A missing one: gc says so, the next backup makes it again.
    assert.match(backy(['-b', job!, 'gc']).stderr, /the pool's lock file \S+ is missing \(the next backup makes it again\)\n$/);
    writeFileSync(join(sources, 'vm0.img'), image);
    const verified = backy(['-b', job!, 'verify']);
    assert.equal(verified.status, 1, 'its chunks are gone: damage');
    ok(['-b', job!, 'backup', 'daily']);
    const target = join(fs.path, 'restored.img');
    ok(['-b', job!, 'restore', target]);
    assert.ok(readFileSync(target).equals(image));
    rmSync(target);
  });

  it('returns the space of a deleted job directory at the next garbage collection', async () => {
    const jobs = setup(2);
    for (const [i, job] of jobs.entries()) {
      writeFileSync(join(sources, `vm${i}.img`), randomBytes(4 * MiB));
      ok(['-b', job, 'backup', 'daily']);
    }
    const before = poolBytes(pool());
    assert.equal(ok(['-c', conf, 'gc']).stdout.match(/(\d+) chunks deleted/)![1], '0', 'nothing to collect while both jobs are there');
    rmSync(jobs[1]!, { recursive: true });
    // Chunks younger than the collection's margin are kept whatever references them.
    await new Promise((resolve) => setTimeout(resolve, MARGIN_MS + 200));
    const collected = ok(['-c', conf, 'gc']);
    assert.match(collected.stdout, /INFO 64 chunks deleted, 4.00 MiB freed; 64 chunks in use\n/);
    assert.equal(poolBytes(pool()), before / 2);
    // Collecting from the remaining job's directory works as well, and finds nothing more.
    assert.match(ok(['-b', jobs[0]!, 'gc']).stdout, /INFO 0 chunks deleted/);
    ok(['-b', jobs[0]!, 'verify']);
  });

  it(`survives backups, retention and collections of one pool at once, killed at random points (${ROUNDS} rounds)`, async () => {
    const jobs = setup(3);
    const contents = new Map<string, Buffer>();
    const template = randomBytes(4 * MiB);
    for (const [i] of jobs.entries()) writeFileSync(join(sources, `vm${i}.img`), template);
    const run = (args: string[], killAfterMs: number | null) =>
      new Promise<number | null>((resolve) => {
        const child = backyAsync(args, { stdio: 'ignore' });
        const timer = killAfterMs === null ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
    for (let round = 0; round < ROUNDS; round++) {
      // Each job's source changes in a few blocks of its own; some blocks are reverted to the template.
      for (const [i] of jobs.entries()) {
        const source = join(sources, `vm${i}.img`);
        for (let k = 0; k < 4; k++) writeAt(source, randomInt(0, 64) * BLOCK, randomInt(0, 3) === 0 ? template.subarray(0, BLOCK) : randomBytes(BLOCK));
      }
      const snapshot = jobs.map((_, i) => readFileSync(join(sources, `vm${i}.img`)));
      const killed = randomInt(0, jobs.length + 1);
      await Promise.all([
        ...jobs.map((job, i) => run(['-b', job, 'backup', 'daily'], i === killed ? randomInt(50, 600) : null)),
        run(['-c', conf, 'gc'], randomInt(0, 2) === 0 ? randomInt(20, 400) : null),
        run(['-c', conf, 'gc'], null),
        ...jobs.map((job) => expireRevisions(new JobDirectory(job), [{ tag: 'daily', intervalSeconds: 1, keep: 2 }], systemClock, silentLogger).then(() => 0)),
      ]);
      // A backup killed after it completed made a revision all the same.
      for (const [i, job] of jobs.entries()) {
        const newest = revisionIds(job).filter((id) => typeof readRevisionYaml(job, id).stats.duration === 'number' && !contents.has(id));
        for (const id of newest) contents.set(id, snapshot[i]!);
      }
    }
    ok(['-c', conf, 'gc']);
    let checked = 0;
    for (const job of jobs) {
      for (const id of revisionIds(job)) {
        const rev = readRevisionYaml(job, id);
        if (typeof rev.stats.duration !== 'number') continue;
        ok(['-b', job, 'verify', '-r', id]);
        const target = join(fs.path, 'stress-restored.img');
        ok(['-b', job, 'restore', '-r', id, target]);
        assert.ok(readFileSync(target).equals(contents.get(id)!), `revision ${id} of ${job} restores what was backed up`);
        rmSync(target);
        checked += 1;
      }
      // The job goes on after whatever was killed.
      ok(['-b', job, 'backup', 'daily']);
    }
    assert.ok(checked >= jobs.length, `${checked} revisions checked`);
  });
});
