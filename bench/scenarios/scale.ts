/**
 * A job directory with 10,000 revisions (an hourly job kept for a year and
 * more): `backy status`, the overhead a backup adds over the same backup
 * in an empty job, and retention removing thousands of revisions at once —
 * on a btrfs loop filesystem, where every directory flush is a commit.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BACKY_MAIN } from '../../test/helpers/cli.js';
import { mountLoopFilesystem } from '../../test/helpers/loop-fs.js';
import { newRevisionId } from '../../src/store/revision-id.js';
import { measure, median } from '../lib/measure.js';
import { markdownTable, seconds } from '../lib/report.js';

const REVISIONS = 10_000;
const REPETITIONS = 5;
const HOUR = 3600_000;

/** Writes `count` complete hourly revisions by hand, the newest an hour ago: each a `.rev` and a 4 KiB image. */
function fillJob(job: string, count: number): void {
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    const id = newRevisionId();
    const timestamp = new Date(now - (count - i) * HOUR).toISOString();
    writeFileSync(join(job, `${id}.rev`), `uuid: ${id}\ntimestamp: ${timestamp}\nparent: ''\ntags: [hourly]\nstats:\n  bytes_written: 4096\n  duration: 1.5\n  size: 4096\n`, { mode: 0o440 });
    writeFileSync(join(job, id), Buffer.alloc(4096, 1), { mode: 0o440 });
  }
}

/**
 * A chunked job with `count` revisions: one real backup of `source`, its
 * `.rev` and index copied under new IDs, each copy with one block changed
 * (a chunk of its own, not in the pool) and a root of its own, so that
 * `status` has to read and compare every index.
 */
function fillChunkedJob(job: string, source: string, count: number): void {
  execFileSync(process.execPath, [BACKY_MAIN, '-b', job, 'init', '--store', 'chunked', 'file', source]);
  execFileSync(process.execPath, [BACKY_MAIN, '-b', job, 'backup', 'hourly']);
  const id = readdirSync(job).find((name) => /^[A-Za-z0-9]{22}\.rev$/.test(name))!.slice(0, -'.rev'.length);
  const text = readFileSync(join(job, `${id}.rev`), 'utf8');
  const now = Date.now();
  for (let i = 1; i < count; i++) {
    const copy = newRevisionId();
    const timestamp = new Date(now - (count - i + 1) * HOUR).toISOString();
    const rev = text.replaceAll(id, copy).replace(/^timestamp: .*$/m, `timestamp: ${timestamp}`).replace(/root: [0-9a-f]{64}/, `root: ${randomBytes(32).toString('hex')}`);
    writeFileSync(join(job, `${copy}.rev`), rev, { mode: 0o440 });
    const index = join(job, `${copy}.index`);
    copyFileSync(join(job, `${id}.index`), index);
    const handle = openSync(index, 'r+');
    writeSync(handle, randomBytes(32), 0, 32, 32 + (i % 1024) * 32);
    closeSync(handle);
  }
}

export async function run(): Promise<string> {
  const work = mkdtempSync(join('/var/tmp', 'backy-bench-scale-'));
  const fs = mountLoopFilesystem('btrfs', '4G', { dir: work, directIo: true });
  try {
    const source = join(work, 'vm.img');
    writeFileSync(source, Buffer.alloc(1024 * 1024, 7));
    const big = join(fs.path, 'big');
    const empty = join(fs.path, 'empty');
    for (const job of [big, empty]) execFileSync(process.execPath, [BACKY_MAIN, '-b', job, 'init', 'file', source]);
    fillJob(big, REVISIONS);
    const chunkedSource = join(work, 'vm64.img');
    writeFileSync(chunkedSource, randomBytes(64 * 1024 * 1024));
    const chunked = join(fs.path, 'chunked');
    fillChunkedJob(chunked, chunkedSource, REVISIONS);
    execFileSync('sync');

    const status: number[] = [];
    for (let i = 0; i < REPETITIONS; i++) status.push((await measure(process.execPath, [BACKY_MAIN, '-b', big, 'status'])).wallSeconds);
    const emptyStatus: number[] = [];
    for (let i = 0; i < REPETITIONS; i++) emptyStatus.push((await measure(process.execPath, [BACKY_MAIN, '-b', empty, 'status'])).wallSeconds);
    const chunkedStatus: number[] = [];
    for (let i = 0; i < REPETITIONS; i++) chunkedStatus.push((await measure(process.execPath, [BACKY_MAIN, '-b', chunked, 'status'])).wallSeconds);
    const overhead: number[] = [];
    const inBig: number[] = [];
    for (let i = 0; i < REPETITIONS; i++) {
      const small = (await measure(process.execPath, [BACKY_MAIN, '-b', empty, 'backup', 'hourly'])).wallSeconds;
      const large = (await measure(process.execPath, [BACKY_MAIN, '-b', big, 'backup', 'hourly'])).wallSeconds;
      inBig.push(large);
      overhead.push(large - small);
    }

    // Retention keeping a day of hourly revisions: nearly all of them go at once.
    const script = join(work, 'expire.mjs');
    const retention = new URL('../../src/scheduler/retention-apply.js', import.meta.url).href;
    const directory = new URL('../../src/job/job-directory.js', import.meta.url).href;
    writeFileSync(
      script,
      `import { expireRevisions } from '${retention}';\nimport { JobDirectory } from '${directory}';\n` +
        `const logger = { debug() {}, info() {}, warn() {}, error() {} };\n` +
        `const plan = await expireRevisions(new JobDirectory(process.argv[2]), [{ tag: 'hourly', intervalSeconds: 3600, keep: 24 }], { now: () => new Date() }, logger);\n` +
        `console.log(plan.remove.length);\n`,
    );
    const expired = await measure(process.execPath, [script, big]);
    const removed = Number(expired.stdout.trim());

    const s = median(status);
    const c = median(chunkedStatus);
    const o = median(overhead);
    return [
      `## A job with ${REVISIONS.toLocaleString('en')} revisions`,
      '',
      `Job directory on a btrfs loop filesystem, ${REVISIONS} revisions written by hand (\`.rev\` and a 4 KiB image each; for the chunked job, copies of one real backup's \`.rev\` and index), median of ${REPETITIONS}. ` +
        'Backup overhead: a backup of a 1 MiB file into that job minus the same backup into an empty job, run in turn.',
      '',
      markdownTable([
        { figure: '`backy status`', value: seconds(s), baseline: `${seconds(median(emptyStatus))} (an empty job: Node's start)`, target: '< 1 s', pass: s < 1 },
        { figure: '`backy status` of a chunked job (64 MiB image, one block changed per revision), with what it uses in the pool', value: seconds(c), target: '< 1 s', pass: c < 1 },
        { figure: 'backup in the big job', value: seconds(median(inBig)) },
        { figure: "backup's overhead from 10,000 revisions", value: seconds(o), target: '< 1 s', pass: o < 1 },
        { figure: `retention removing ${removed.toLocaleString('en')} revisions`, value: seconds(expired.wallSeconds), target: '< 60 s (no worker held for minutes)', pass: expired.wallSeconds < 60 },
      ]),
    ].join('\n');
  } finally {
    fs.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
