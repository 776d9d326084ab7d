/**
 * A backup told to stop (SIGTERM, SIGINT) late: while it verifies what it
 * wrote, or while it commits the revision (the store seals the hash record
 * or index, the .rev gets its stats, the `last` links move). Whatever the
 * moment, the revision is either complete — it verifies and restores to the
 * source — or gone without a trace, and the revision before it is
 * untouched. The backup is held at a chosen system call with strace's
 * signal injection (SIGSTOP), never by timing, and the signal sent then.
 * For both stores; the test directory's ext4 makes cow revisions full
 * copies, which is all these tests need.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { readRevisionYaml, revisionIds, sameBytes, writeAt } from '../helpers/job-files.js';
import { resume, stoppedAt, untilStopped, type Traced, type TracedExit } from '../helpers/traced.js';

const MiB = 1024 * 1024;
/** Every 4 MiB chunk holds data: verification reads each from disk and so yields to the event loop between them. */
const SIZE = 16 * MiB;
/** The chunked store's default chunk size: a chunk's name is the SHA-256 of these bytes. */
const CHUNK_SIZE = 64 * 1024;

/** Sends `signal` to the held backup and lets it run to its end. */
async function signalAndResume(traced: Traced, pid: number, signal: NodeJS.Signals): Promise<TracedExit> {
  process.kill(pid, signal);
  return resume(traced, pid, 20_000);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The files a revision's data is in, by store. */
function dataFiles(store: string, id: string): string[] {
  return store === 'cow' ? [id, `${id}.hashes`] : [`${id}.index`];
}

for (const store of ['cow', 'chunked'] as const) {
  describe(`a late SIGTERM (store: ${store})`, () => {
    let dir = '';
    let job = '';
    let source = '';
    /** Complete revisions, oldest first, each with a copy of the source it was made of. */
    const complete: Array<{ id: string; copy: string }> = [];
    let counter = 0;

    before(() => {
      dir = mkdtempSync(join(tmpdir(), `backy-late-sigterm-${store}-`));
      source = join(dir, 'vm.img');
      job = join(dir, 'job');
      writeFileSync(source, randomBytes(SIZE));
      assert.equal(backy(['-b', job, 'init', '--store', store, 'file', source]).status, 0);
      const first = backy(['-b', job, 'backup', 'daily']);
      assert.equal(first.status, 0, first.stderr);
      keep(revisionIds(job)[0]!);
    });

    after(() => rmSync(dir, { recursive: true, force: true }));

    function keep(id: string): void {
      const copy = join(dir, `source-of-${id}.img`);
      copyFileSync(source, copy);
      complete.push({ id, copy });
    }

    function newest(): string {
      return complete.at(-1)!.id;
    }

    /** Changes the source, so that the next revision differs from the one before. */
    function changeSource(): void {
      writeAt(source, (2 + counter) * MiB, randomBytes(MiB));
    }

    /** What `last` and `last.rev` point at (a chunked revision has no image file, so no `last`). */
    function assertLastLinks(id: string): void {
      assert.equal(readlinkSync(join(job, 'last.rev')), `${id}.rev`, 'last.rev');
      if (store === 'cow') assert.equal(readlinkSync(join(job, 'last')), id, 'last');
      else assert.equal(existsSync(join(job, 'last')), false, 'no last link for a chunked revision');
    }

    function assertRestores(revision: string, expected: string, what: string): void {
      const target = join(dir, `restored-${counter++}.img`);
      const restore = backy(['-b', job, 'restore', '-r', revision, target]);
      assert.equal(restore.status, 0, `${what}: ${restore.stderr}`);
      assert.ok(sameBytes(target, expected), `${what} restores byte for byte`);
      rmSync(target);
    }

    function assertVerifies(revision: string): void {
      const verify = backy(['-b', job, 'verify', '-r', revision]);
      assert.equal(verify.status, 0, verify.stdout + verify.stderr);
      assert.match(verify.stdout, new RegExp(`revision ${revision} verified`));
    }

    /**
     * Exactly the complete revisions so far (and `plus`) have a .rev, each
     * recording its revision complete; the newest of them, or all, restore
     * to what they were made of.
     */
    function assertEarlierIntact(restore: 'newest' | 'all', plus: string[] = []): void {
      assert.deepEqual(revisionIds(job).sort(), [...complete.map((r) => r.id), ...plus].sort(), 'exactly the complete revisions have a .rev');
      for (const { id } of complete) assert.equal(typeof readRevisionYaml(job, id).stats.duration, 'number', `${id} is complete`);
      for (const { id, copy } of restore === 'all' ? complete : complete.slice(-1)) assertRestores(id, copy, `revision ${id}`);
    }

    /** Runs a backup held at the stop point, checks it is held where meant, then signals it. */
    async function interrupted(syscalls: string, paths: string[], signal: NodeJS.Signals, heldWhere: (id: string) => void) {
      changeSource();
      const known = revisionIds(job);
      const traced = stoppedAt(dir, syscalls, ['-b', job, 'backup', 'daily'], { paths });
      try {
        const pid = await untilStopped(traced, `the backup to stop at ${syscalls} ${paths.join(' ')}`);
        const id = revisionIds(job).find((r) => !known.includes(r));
        assert.ok(id, 'the held backup has created its revision');
        heldWhere(id);
        const result = await signalAndResume(traced, pid, signal);
        return { id, result };
      } finally {
        // A failed check leaves no backup behind to finish later on its own (nor strace waiting for it).
        traced.kill();
      }
    }

    /** The backup gave up: one line, exit 1, nothing of the revision left, `last` unchanged. */
    function assertGone(id: string, result: TracedExit, signal: NodeJS.Signals): void {
      assert.equal(result.signal, null, `killed by ${result.signal}`);
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stderr, `backy: interrupted by ${signal}\n`);
      for (const name of [`${id}.rev`, ...dataFiles(store, id)]) assert.equal(existsSync(join(job, name)), false, `${name} removed`);
      assert.deepEqual(
        readdirSync(job).filter((name) => name.includes(id)),
        [],
        'no temporary file of the revision left',
      );
      const status = backy(['-b', job, 'status']);
      assert.equal(status.status, 0, status.stderr);
      assert.ok(!status.stdout.includes(id), `status does not list ${id}: ${status.stdout}`);
      assert.match(status.stdout, new RegExp(`\n${complete.length} revisions? containing `), status.stdout);
      assertLastLinks(newest());
      assertEarlierIntact('newest');
    }

    /** The backup was past stopping: it finished (exit 0, saying the signal came too late), and the revision is as good as any. */
    function assertCompleted(id: string, result: TracedExit): void {
      assert.equal(result.signal, null, `killed by ${result.signal}`);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '');
      assert.match(result.stdout, new RegExp(`INFO backup of revision ${id} complete: `));
      assert.match(result.stdout, /WARN SIGTERM came too late to stop the backup: it finished\n/, 'the signal is not passed over in silence');
      const rev = readRevisionYaml(job, id);
      assert.equal(typeof rev.stats.duration, 'number', 'the .rev records the revision complete');
      assert.equal(rev.parent, newest());
      assertLastLinks(id);
      assertVerifies(id);
      assertRestores(id, source, 'the new revision');
      assertEarlierIntact('newest', [id]);
      keep(id);
    }

    /**
     * cow: the flush of the new image (the first fdatasync of a backup; the image's name is not known
     * beforehand), which runs beside the verification, before any chunk is compared.
     * chunked: the read back of the chunk of the first block (always sampled; the transfer finds it
     * unchanged from the parent's and never opens it), by its path in the pool.
     */
    function verificationStop(): [string, string[]] {
      return store === 'cow' ? ['fdatasync', []] : ['openat', [join(job, 'chunks', 'chunks', ...chunkName(source))]];
    }

    /** Held before the .rev records the revision complete, its data all written. */
    function heldIncomplete(id: string): void {
      assert.equal(readRevisionYaml(job, id).stats.duration, undefined, 'held before the revision was complete');
      for (const name of dataFiles(store, id)) assert.ok(existsSync(join(job, name)), `${name} written`);
    }

    it('SIGTERM while verification reads back what was written: the revision is removed', async () => {
      const [syscalls, paths] = verificationStop();
      const { id, result } = await interrupted(syscalls, paths, 'SIGTERM', heldIncomplete);
      assertGone(id, result, 'SIGTERM');
    });

    it('SIGINT (Ctrl-C) during verification: the same', async () => {
      const [syscalls, paths] = verificationStop();
      const { id, result } = await interrupted(syscalls, paths, 'SIGINT', heldIncomplete);
      assertGone(id, result, 'SIGINT');
    });

    it('SIGTERM while the store seals the revision (made read-only) before the .rev records it: the revision completes', async () => {
      // The first chmod of a backup is the store's commit (cow: the image, then its hash record; chunked: the index).
      const { id, result } = await interrupted('chmod', [], 'SIGTERM', heldIncomplete);
      assertCompleted(id, result);
    });

    it('SIGTERM as the `last` links move to the new revision: the revision completes', async () => {
      // Its first look at `last.rev` (lstat) is where it replaces the link (cow: `last` has just moved); statx or lstat, by kernel.
      const { id, result } = await interrupted('statx,lstat', [join(job, 'last.rev')], 'SIGTERM', (held) => {
        assert.equal(typeof readRevisionYaml(job, held).stats.duration, 'number', 'the .rev is complete');
        assert.equal(readlinkSync(join(job, 'last.rev')), `${newest()}.rev`, 'last.rev not moved yet');
      });
      assertCompleted(id, result);
    });

    it('the next backup succeeds, verifies and restores; every earlier revision still does', () => {
      changeSource();
      const known = revisionIds(job);
      const next = backy(['-b', job, 'backup', 'daily']);
      assert.equal(next.status, 0, next.stderr);
      assert.doesNotMatch(next.stdout, /removing/, 'nothing left over to clean up');
      const id = revisionIds(job).find((r) => !known.includes(r))!;
      assert.equal(readRevisionYaml(job, id).parent, newest());
      assertLastLinks(id);
      assertVerifies(id);
      assertRestores(id, source, 'the next revision');
      keep(id);
      assertEarlierIntact('all');
      const all = backy(['-b', job, 'verify', '--all']);
      assert.equal(all.status, 0, all.stdout + all.stderr);
    });
  });
}

/** Stripe directory and name of the chunk holding the first block of `path`. */
function chunkName(path: string): [string, string] {
  const name = sha256(readFileSync(path).subarray(0, CHUNK_SIZE));
  return [name.slice(0, 2), name];
}
