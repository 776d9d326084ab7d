/**
 * Special files (FIFOs, symlinks to devices, dangling
 * links) in the places of a job directory's `.rev` files, hash records,
 * images and `backy.log`. Each must be a clear line, never a hang, a crash
 * or a deleted image. A hang is caught by a generous safety limit (the
 * command is killed and the test fails), never by timing what works.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy, BACKY_MAIN, type CliResult } from '../helpers/cli.js';
import { revisionIds, sameBytes, writeAt } from '../helpers/job-files.js';
import { configText, freePort, revisions, SchedulerFixture } from '../scheduler/harness.js';

const MiB = 1024 * 1024;
/** Only a safety net: every command here answers in about a second when it works. */
const HANG_LIMIT_MS = 30_000;
const root = mkdtempSync(join(tmpdir(), 'backy-special-files-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

/** `backy ARGS`, killed if it has not ended within the safety limit (`signal` then says so). */
function bounded(args: string[], options: { prefix?: string[] } = {}): CliResult {
  const [command, ...rest] = [...(options.prefix ?? []), process.execPath, BACKY_MAIN, ...args];
  const result = spawnSync(command!, rest, { encoding: 'utf8', timeout: HANG_LIMIT_MS, killSignal: 'SIGKILL' });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

function assertAnswered(result: CliResult, what: string): void {
  assert.notEqual(result.signal, 'SIGKILL', `${what}: hung (killed after ${HANG_LIMIT_MS / 1000} s)`);
  assert.equal(result.signal, null, `${what}: ended by ${result.signal} (stderr: ${result.stderr.slice(-500)})`);
}

interface Job {
  dir: string;
  job: string;
  source: string;
  ids: string[];
}

/** A job with two complete revisions of a 1 MiB source. */
function job(): Job {
  const dir = join(root, `job-${counter++}`);
  mkdirSync(dir);
  const source = join(dir, 'vm.img');
  writeFileSync(source, randomBytes(MiB));
  const path = join(dir, 'job');
  assert.equal(backy(['-b', path, 'init', '--store', 'cow', 'file', source]).status, 0);
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    writeAt(source, i * 65536, randomBytes(65536));
    const before = new Set(revisionIds(path));
    const result = backy(['-b', path, 'backup', 'daily']);
    assert.equal(result.status, 0, result.stderr);
    ids.push(revisionIds(path).find((id) => !before.has(id))!);
  }
  return { dir, job: path, source, ids };
}

const STRANGER = 'AAAAAAAAAAAAAAAAAAAAAA';

describe('special files in a job directory', () => {
  it('a FIFO named like a revision .rev is listed as unreadable by status, backup and verify; none of them hangs', () => {
    const j = job();
    spawnSync('mkfifo', [join(j.job, `${STRANGER}.rev`)]);
    const status = bounded(['-b', j.job, 'status']);
    assertAnswered(status, 'status');
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`${STRANGER} .*\\[unreadable \\.rev\\]`));
    const verify = bounded(['-b', j.job, 'verify']);
    assertAnswered(verify, 'verify');
    assert.equal(verify.status, 0, verify.stderr);
    const backup = bounded(['-b', j.job, 'backup', 'daily']);
    assertAnswered(backup, 'backup');
    assert.equal(backup.status, 0, backup.stderr);
  });

  it('a .rev that is a symlink to /dev/zero is refused at once, not read until memory runs out', () => {
    const j = job();
    symlinkSync('/dev/zero', join(j.job, `${STRANGER}.rev`));
    // Under a 3 GB address-space limit the unbounded read ends in std::bad_alloc in seconds instead of eating the machine's memory.
    const status = bounded(['-b', j.job, 'status'], { prefix: ['prlimit', '--as=3000000000'] });
    assertAnswered(status, 'status');
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`${STRANGER} .*\\[unreadable \\.rev\\]`));
  });

  it('a .rev that is a dangling symlink never costs the image and hash record beside it', () => {
    const j = job();
    const id = j.ids[0]!;
    // E.g. the .rev files were moved to another disk and linked back, and that disk is not mounted.
    const elsewhere = join(j.dir, 'unmounted-disk');
    mkdirSync(elsewhere);
    renameSync(join(j.job, `${id}.rev`), join(elsewhere, `${id}.rev`));
    symlinkSync(join(j.dir, 'not-mounted', `${id}.rev`), join(j.job, `${id}.rev`));
    const image = join(j.dir, 'image-before.img');
    copyFileSync(join(j.job, id), image);

    const backup = backy(['-b', j.job, 'backup', 'daily']);
    assert.equal(backup.status, 0, backup.stderr);
    assert.doesNotMatch(backup.stdout, new RegExp(`removing data of ${id}`));
    assert.ok(existsSync(join(j.job, id)), 'the image is still there after a backup');
    assert.ok(sameBytes(join(j.job, id), image), 'and unchanged');
    assert.ok(existsSync(join(j.job, `${id}.hashes`)), 'so is its hash record');
    const status = backy(['-b', j.job, 'status']);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`${id} .*\\[unreadable \\.rev\\]`), 'status lists the revision as unreadable');
  });

  it('a FIFO in place of the newest hash record: verify, restore and the next backup answer; none hangs', () => {
    const j = job();
    const id = j.ids[1]!;
    rmSync(join(j.job, `${id}.hashes`));
    spawnSync('mkfifo', [join(j.job, `${id}.hashes`)]);
    const verify = bounded(['-b', j.job, 'verify']);
    assertAnswered(verify, 'verify');
    assert.equal(verify.status, 1);
    assert.match(verify.stdout, new RegExp(`^revision ${id} could not be verified: its hash record`));
    const restore = bounded(['-b', j.job, 'restore', join(j.dir, 'restored.img')]);
    assertAnswered(restore, 'restore');
    const backup = bounded(['-b', j.job, 'backup', 'daily']);
    assertAnswered(backup, 'backup (the FIFO is the parent revision\'s record)');
    assert.equal(backup.status, 0, backup.stderr);
  });

  it('a FIFO in place of a revision image: verify and restore say so in one line; neither hangs', () => {
    const j = job();
    const id = j.ids[1]!;
    rmSync(join(j.job, id));
    spawnSync('mkfifo', [join(j.job, id)]);
    const verify = bounded(['-b', j.job, 'verify', '-r', id]);
    assertAnswered(verify, 'verify');
    assert.equal(verify.status, 1);
    assert.match(verify.stdout, new RegExp(`^revision ${id} could not be verified: the image of revision ${id} is not a regular file`));
    const restore = bounded(['-b', j.job, 'restore', '-r', id, join(j.dir, 'restored.img')]);
    assertAnswered(restore, 'restore');
    assert.equal(restore.status, 1);
    assert.match(restore.stderr, /is not a regular file/);
  });

  it('a job whose config is a symlink backs up as it is read (status follows the link, the lock refuses it)', () => {
    const j = job();
    const config = join(j.dir, 'job.config');
    copyFileSync(join(j.job, 'config'), config);
    rmSync(join(j.job, 'config'));
    symlinkSync(config, join(j.job, 'config'));
    assert.equal(backy(['-b', j.job, 'status']).status, 0);
    const backup = backy(['-b', j.job, 'backup', 'daily']);
    assert.equal(backup.status, 0, `backup: ${backup.stderr}`);
  });
});

describe('special files in job directories do not freeze the scheduler', () => {
  for (const [what, plant] of [
    ['a FIFO named like a .rev in one job', (jobDir: string) => spawnSync('mkfifo', [join(jobDir, `${STRANGER}.rev`)])],
    ["a FIFO in place of one job's backy.log", (jobDir: string) => spawnSync('mkfifo', [join(jobDir, 'backy.log')])],
  ] as const) {
    it(`${what}: the other job is still backed up and SIGTERM ends the scheduler`, async () => {
      const fixture = new SchedulerFixture();
      try {
        const a = fixture.source('a.img', MiB);
        const b = fixture.source('b.img', MiB);
        const jobA = fixture.job('a');
        mkdirSync(jobA);
        writeFileSync(join(jobA, 'config'), `type: file\nfilename: ${a}\n`);
        plant(jobA);
        fixture.writeConfig(
          configText({
            base: fixture.base,
            port: await freePort(),
            workerLimit: 2,
            schedules: { default: { daily: { interval: '1d', keep: 3 } } },
            jobs: { a: { schedule: 'default', filename: a }, b: { schedule: 'default', filename: b } },
          }),
        );
        const scheduler = fixture.start();
        await fixture.waitFor('a complete revision of job b', () => revisions(fixture.job('b')).some((r) => r.complete));
        const exit = await scheduler.stop();
        assert.equal(exit.code, 0, scheduler.output());
        assert.ok(readdirSync(jobA).includes('config'));
      } finally {
        fixture.cleanup();
      }
    });
  }
});
