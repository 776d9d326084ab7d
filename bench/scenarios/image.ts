/**
 * The file source with the job directory on btrfs and on ext4, beside
 * `cp --sparse=always SRC DST && sync && cmp SRC DST`: a full backup (with its
 * verification and block hashes), an incremental backup after 1% of the
 * image changed in random 64 KiB blocks, a restore (checking every block),
 * `backy verify` beside `openssl dgst -sha256`, and peak memory for a 4 GiB
 * image and a 16 GiB sparse one.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { BACKY_MAIN } from '../../test/helpers/cli.js';
import { exclusiveBytes, mountLoopFilesystem } from '../../test/helpers/loop-fs.js';
import { generateImage, mutateImage } from '../lib/image.js';
import { measure, measureShell, median, type Measurement } from '../lib/measure.js';
import { markdownTable, mib, ratio, seconds, type Row } from '../lib/report.js';

const GiB = 1024 ** 3;

export interface ImageBenchOptions {
  sizeGiB?: number;
  repetitions?: number;
  workDir?: string;
  filesystems?: Array<'btrfs' | 'ext4'>;
}

function backy(job: string, ...args: string[]): Promise<Measurement> {
  return measure(process.execPath, [BACKY_MAIN, '-b', job, ...args]);
}

function lastRevision(job: string): { uuid: string; stats: Record<string, number> } {
  return YAML.parse(readFileSync(join(job, 'last.rev'), 'utf8')) as { uuid: string; stats: Record<string, number> };
}

function settle(): void {
  execFileSync('sync');
}

/**
 * Starts every timed step from the same memory state: the page cache is
 * emptied (so no step profits from memory an earlier one freed), then the
 * files the step reads first are read once, so both tools in a comparison
 * start warm.
 */
function warm(...paths: string[]): void {
  execFileSync('sh', ['-c', 'sync; echo 1 > /proc/sys/vm/drop_caches; for f in "$@"; do cat "$f" > /dev/null; done', 'sh', ...paths]);
}

export async function run(options: ImageBenchOptions = {}): Promise<string> {
  const sections: string[] = [];
  for (const type of options.filesystems ?? ['btrfs', 'ext4']) sections.push(await runOn(type, options));
  return sections.join('\n\n');
}

async function runOn(type: 'btrfs' | 'ext4', options: ImageBenchOptions): Promise<string> {
  const size = (options.sizeGiB ?? 4) * GiB;
  const reps = options.repetitions ?? 3;
  const work = mkdtempSync(join(options.workDir ?? '/var/tmp', 'backy-bench-'));
  // ext4 keeps a full copy per revision.
  const fs = mountLoopFilesystem(type, `${Math.ceil((size * (type === 'btrfs' ? 3.5 : 4.5)) / GiB) + 2}G`, { dir: work, directIo: true });
  try {
    const source = join(work, 'source.img');
    await generateImage(source, size);
    const restoreDir = join(work, 'restore');
    mkdirSync(restoreDir);
    const t = { baseline: [] as number[], full: [] as number[], incr: [] as number[], restore: [] as number[], cpRestore: [] as number[], verify: [] as number[], dgst: [] as number[] };
    const written: number[] = [];
    const changedBytes: number[] = [];
    const exclusive: number[] = [];
    let peakRss = 0;
    for (let rep = 0; rep < reps; rep++) {
      const job = join(fs.path, `job${rep}`);
      const copy = join(fs.path, 'baseline.img');
      // The cow store on both (on ext4 a new job's default is the chunked store, benchmarked in `chunked`).
      execFileSync(process.execPath, [BACKY_MAIN, '-b', job, 'init', '--store', 'cow', 'file', source]);
      settle();
      warm(source);
      t.baseline.push((await measureShell(`cp --sparse=always ${source} ${copy} && sync && cmp ${source} ${copy}`)).wallSeconds);
      rmSync(copy);
      settle();
      warm(source);
      const full = await backy(job, 'backup', 'full');
      t.full.push(full.wallSeconds);
      peakRss = Math.max(peakRss, full.maxRssBytes);
      settle();
      const changed = await mutateImage(source, 0.01, 64 * 1024, `mutate-${rep}`);
      settle();
      warm(source, join(job, lastRevision(job).uuid));
      const incr = await backy(job, 'backup', 'incremental');
      t.incr.push(incr.wallSeconds);
      peakRss = Math.max(peakRss, incr.maxRssBytes);
      const revision = lastRevision(job);
      written.push(revision.stats.bytes_written!);
      changedBytes.push(changed);
      settle();
      if (type === 'btrfs') exclusive.push(exclusiveBytes(join(job, revision.uuid)));
      // Both from an emptied page cache, in turn.
      const image = join(job, revision.uuid);
      const verifySteps = [
        async () => {
          warm();
          const verified = await backy(job, 'verify');
          t.verify.push(verified.wallSeconds);
          peakRss = Math.max(peakRss, verified.maxRssBytes);
        },
        async () => {
          warm();
          t.dgst.push((await measure('openssl', ['dgst', '-sha256', image])).wallSeconds);
        },
      ];
      if (rep % 2 === 1) verifySteps.reverse();
      for (const step of verifySteps) await step();
      const target = join(restoreDir, 'restored.img');
      const cpTarget = join(restoreDir, 'cp.img');
      // Which of the two restores runs first alternates: the second one
      // meets the writeback the first one left behind.
      const restoreSteps = [
        async () => {
          warm(join(job, revision.uuid));
          const restore = await backy(job, 'restore', '-r', '0', target);
          t.restore.push(restore.wallSeconds);
          peakRss = Math.max(peakRss, restore.maxRssBytes);
          rmSync(target);
          settle();
        },
        async () => {
          warm(join(job, revision.uuid));
          t.cpRestore.push((await measureShell(`cp --sparse=always ${join(job, revision.uuid)} ${cpTarget}`)).wallSeconds);
          rmSync(cpTarget);
          settle();
        },
      ];
      if (rep % 2 === 1) restoreSteps.reverse();
      for (const step of restoreSteps) await step();
      rmSync(job, { recursive: true, force: true });
      settle();
    }
    rmSync(source);

    // Memory must not grow with the image: a 16 GiB sparse image.
    const sparse = join(work, 'sparse.img');
    execFileSync('truncate', ['-s', '16G', sparse]);
    await mutateImage(sparse, 0.001, 1024 * 1024, 'sparse');
    const sparseJob = join(fs.path, 'sparse');
    execFileSync(process.execPath, [BACKY_MAIN, '-b', sparseJob, 'init', '--store', 'cow', 'file', sparse]);
    const sparseRun = await backy(sparseJob, 'backup', 'full');
    const sparseVerify = await backy(sparseJob, 'verify');
    rmSync(sparse);

    const m = {
      baseline: median(t.baseline),
      full: median(t.full),
      incr: median(t.incr),
      restore: median(t.restore),
      cpRestore: median(t.cpRestore),
      written: median(written),
      changed: median(changedBytes),
      exclusive: type === 'btrfs' ? median(exclusive) : 0,
      verify: median(t.verify),
      dgst: median(t.dgst),
    };
    const rows: Row[] = [
      { figure: 'full backup incl. verification', value: seconds(m.full), baseline: `${seconds(m.baseline)} (cp+sync+cmp)`, ratio: ratio(m.full, m.baseline), target: '<= 1.0 x cp+sync+cmp', pass: m.full <= m.baseline },
      { figure: 'incremental backup (1% changed)', value: seconds(m.incr), baseline: `${seconds(m.full)} (full)`, ratio: ratio(m.incr, m.full), target: '<= 0.6 x full', pass: m.incr <= 0.6 * m.full },
      { figure: 'incremental bytes_written', value: mib(m.written), baseline: `${mib(m.changed)} changed`, ratio: ratio(m.written, m.changed), target: '<= 1.1 x changed', pass: m.written <= 1.1 * m.changed },
      ...(type === 'btrfs'
        ? [{ figure: 'incremental exclusive extents (btrfs)', value: mib(m.exclusive), baseline: `${mib(m.changed)} changed`, ratio: ratio(m.exclusive, m.changed), target: '<= 2 x changed', pass: m.exclusive <= 2 * m.changed }]
        : []),
      { figure: 'restore to another filesystem', value: seconds(m.restore), baseline: `${seconds(m.cpRestore)} (cp --sparse=always)`, ratio: ratio(m.restore, m.cpRestore), target: '<= 1.2 x cp', pass: m.restore <= 1.2 * m.cpRestore },
      { figure: '`backy verify` of the latest revision', value: seconds(m.verify), baseline: `${seconds(m.dgst)} (openssl dgst -sha256)`, ratio: ratio(m.verify, m.dgst), target: '<= 1.0 x openssl', pass: m.verify <= m.dgst },
      { figure: `peak memory, ${size / GiB} GiB image (backup, restore, verify)`, value: mib(peakRss), target: '< 150 MiB', pass: peakRss < 150 * 1024 * 1024 },
      { figure: 'peak memory, 16 GiB sparse image (backup, verify)', value: mib(Math.max(sparseRun.maxRssBytes, sparseVerify.maxRssBytes)), target: '< 150 MiB', pass: Math.max(sparseRun.maxRssBytes, sparseVerify.maxRssBytes) < 150 * 1024 * 1024 },
    ];
    return [
      `## File source, job directory on ${type} (${size / GiB} GiB image, median of ${reps})`,
      '',
      `Image: 64 MiB stripes of random data, holes and compressible text. Source on the root filesystem, job directory on a ${type} loop filesystem (its loop device reads and writes the backing file with direct I/O, so data is cached once, as on a disk), restores to the root filesystem (backy and cp alternate which goes first); \`sync\` between steps; before each timed step the page cache is dropped and the files the step reads first are read once (the source; for the incremental also the parent image, as after a previous backup; for restores the image), so every tool starts from the same warm state. \`backy verify\` and \`openssl dgst -sha256\` of the same image both start from an emptied page cache, in turn.` +
        (type === 'ext4'
          ? ' The cow store on ext4 (no reflinks) keeps every revision as a full copy of the image: an incremental writes and hashes all of it. New jobs on ext4 get the chunked store, benchmarked in `npm run bench -- --only chunked`.'
          : ''),
      '',
      markdownTable(rows),
    ].join('\n');
  } finally {
    fs.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const size = Number(process.env.BENCH_SIZE_GIB ?? 4);
  const only = process.env.BENCH_FS ? [process.env.BENCH_FS as 'btrfs' | 'ext4'] : undefined;
  console.log(await run({ sizeGiB: size, repetitions: Number(process.env.BENCH_REPS ?? 3), filesystems: only }));
}
