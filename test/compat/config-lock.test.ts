/**
 * backy 2.x locks a job with flock(2) on its `config` (fcntl.flock in
 * Python). This backy takes that lock too, besides its own `.backy.lock`,
 * so that an old backy still run by a cron job and this one never write
 * one job at once: tested against a real Python process holding the lock
 * as backy 2.x does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { assertOneLineError, fingerprintJob, revisionIds } from '../helpers/job-files.js';
import { resume, stoppedAt, untilStopped } from '../helpers/traced.js';

/** A Python process holding flock(LOCK_EX) on `path` until killed; resolves once it holds it. */
async function holdFlock(path: string): Promise<ChildProcess> {
  const child = spawn('python3', ['-c', 'import fcntl,sys,time\nf=open(sys.argv[1],"rb")\nfcntl.flock(f,fcntl.LOCK_EX)\nprint("locked",flush=True)\ntime.sleep(600)', path], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`python3 exited with ${code}`)));
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
}

test("a backup while backy 2.x holds the job's config lock says so and changes nothing; it runs once the lock is free", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-config-lock-'));
  try {
    const source = join(dir, 'vm.img');
    writeFileSync(source, randomBytes(1024 * 1024));
    const job = join(dir, 'job');
    assert.equal(backy(['-b', job, 'init', 'file', source]).status, 0);
    assert.equal(backy(['-b', job, 'backup', 'daily']).status, 0);
    const before = fingerprintJob(job);

    const holder = await holdFlock(join(job, 'config'));
    try {
      assertOneLineError(
        backy(['-b', job, 'backup', 'daily']),
        new RegExp(`^backy: a backup of ${job} is already in progress \\(another program, e\\.g\\. backy 2\\.x, holds the lock on ${job}/config\\)$`),
        'backup under a held config lock',
      );
      assert.deepEqual(fingerprintJob(job), before, 'no revision was added');
      // Reading needs no lock.
      assert.equal(backy(['-b', job, 'status']).status, 0);
      // Verify notes its outcome under backy's own metadata lock, not the job lock.
      assert.equal(backy(['-b', job, 'verify']).status, 0);

      // A backup started while the lock is held, the lock freed within the grace time: it goes ahead.
      // Held (SIGSTOP) once its first try at the config's lock has found it taken, so that it is known
      // to have waited, however slowly it started.
      const waiting = stoppedAt(dir, 'flock', ['-b', job, 'backup', 'weekly'], { paths: [join(job, 'config')] });
      try {
        const pid = await untilStopped(waiting, 'the backup to find the config locked');
        assert.match(waiting.log(), /flock\(\d+, LOCK_EX\|LOCK_NB\) += -1 EAGAIN/, 'its first try found the lock taken');
        await stop(holder);
        const done = await resume(waiting, pid);
        assert.equal(done.code, 0, done.stderr);
      } finally {
        waiting.kill();
      }
    } finally {
      await stop(holder);
    }
    assert.equal(revisionIds(job).length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("while backy holds a job, backy 2.x's flock on the config is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-config-lock-'));
  try {
    const job = join(dir, 'job');
    assert.equal(backy(['-b', job, 'init', 'file', join(dir, 'vm.img')]).status, 0);
    const { JobDirectory } = await import('../../src/job/job-directory.js');
    const lock = await new JobDirectory(job).lock();
    try {
      const probe = spawn('python3', ['-c', 'import fcntl,sys\nf=open(sys.argv[1],"rb")\ntry:\n  fcntl.flock(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\n  print("got it")\nexcept BlockingIOError:\n  print("held")', join(job, 'config')], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      probe.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      await new Promise((resolve) => probe.once('exit', resolve));
      assert.equal(output.trim(), 'held');
    } finally {
      await lock.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
