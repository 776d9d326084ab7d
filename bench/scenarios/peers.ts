/**
 * backy against restic and borg on the same generated image and its
 * 1%-changed variant: full backup, incremental backup and restore of the
 * newest backup, for each tool, repeated with the tools in rotated order so
 * that drift in the machine's load hits all of them alike.
 *
 * Run directly: `node dist/bench/scenarios/peers.js` (BENCH_SIZE_GIB,
 * BENCH_REPS for quick trials); writes bench/results/peers.md.
 */
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mountLoopFilesystem, type LoopFilesystem } from '../../test/helpers/loop-fs.js';
import { generateImage, mutateImage } from '../lib/image.js';
import { explainLoss } from '../lib/peers/explain.js';
import { cachedFraction, warm } from '../lib/peers/page-cache.js';
import { peersReport } from '../lib/peers/report.js';
import { directoryBytes, settle, settledUsedBytes } from '../lib/peers/space.js';
import { emptySamples, type Sample, type Samples } from '../lib/peers/summary.js';
import { backyTool, borgTool, resticTool, type PeerTool } from '../lib/peers/tools.js';

const GiB = 1024 ** 3;

export interface PeersBenchOptions {
  sizeGiB?: number;
  repetitions?: number;
  workDir?: string;
}

/** Points the source path at `image` (a hard link: every tool sees a regular file). */
function useImage(source: string, image: string): void {
  rmSync(source, { force: true });
  linkSync(image, source);
}

export function loopSize(bytes: number): string {
  return `${Math.ceil(bytes / GiB)}G`;
}

/** Rotation `rep` of the tools: each tool takes a different position in each repetition. */
function rotated<T>(items: readonly T[], rep: number): T[] {
  const k = rep % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export interface Bench {
  source: string;
  full: string;
  changed: string;
  restoreFs: LoopFilesystem;
  samples: Pick<Samples, 'restic' | 'borg'> & Partial<Samples>;
  log: (line: string) => void;
}

/** One tool through full backup, incremental backup and restore, from an empty repository to nothing left. */
export async function runTool(tool: PeerTool, bench: Bench): Promise<void> {
  const { source, samples } = bench;
  useImage(source, bench.full);
  tool.init();
  // `inputs` are what the step reads first: warmed, then measured, right before it starts.
  const sample = async (inputs: string[], run: () => Promise<{ wallSeconds: number; cpuSeconds: number; maxRssBytes: number }>): Promise<Sample> => {
    warm(inputs);
    const cached = cachedFraction(inputs);
    const load = loadavg()[0]!;
    const m = await run();
    return { wallSeconds: m.wallSeconds, cpuSeconds: m.cpuSeconds, maxRssBytes: m.maxRssBytes, load, cached };
  };
  let used = settledUsedBytes(tool.fs);
  let directory = directoryBytes(tool.fs, tool.repository);
  for (const step of ['full', 'incremental'] as const) {
    if (step === 'incremental') useImage(source, bench.changed);
    settle();
    const s = await sample([source, ...tool.backupInputs(step)], () => tool.backup(step));
    const usedAfter = settledUsedBytes(tool.fs);
    const directoryAfter = directoryBytes(tool.fs, tool.repository);
    samples[tool.name]![step].push({ ...s, growthBytes: usedAfter - used, directoryGrowthBytes: directoryAfter - directory });
    bench.log(`${tool.name} ${step}: ${s.wallSeconds.toFixed(2)} s, +${((usedAfter - used) / 2 ** 20).toFixed(1)} MiB, input ${(s.cached * 100).toFixed(0)}% cached`);
    used = usedAfter;
    directory = directoryAfter;
  }
  const target = mkdtempSync(join(bench.restoreFs.path, `${tool.name}-`));
  try {
    let file = '';
    const s = await sample(tool.restoreInputs(), async () => {
      const restored = await tool.restore(target);
      file = restored.file;
      // A restore counts until its data is on disk: none of the tools
      // flushes, and what the kernel still held would otherwise be timed
      // by whichever step came next.
      const flushStarted = process.hrtime.bigint();
      execFileSync('sync', ['-f', file]);
      const flushSeconds = Number(process.hrtime.bigint() - flushStarted) / 1e9;
      return { ...restored.measurement, wallSeconds: restored.measurement.wallSeconds + flushSeconds };
    });
    samples[tool.name]!.restore.push(s);
    bench.log(`${tool.name} restore: ${s.wallSeconds.toFixed(2)} s, input ${(s.cached * 100).toFixed(0)}% cached`);
    // Outside the timing: the restore must be the changed image, byte for byte.
    execFileSync('cmp', [bench.changed, file]);
  } finally {
    rmSync(target, { recursive: true, force: true });
    tool.remove();
    settle();
  }
}

export function versions(): string {
  const first = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]!.trim();
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  let commit = '';
  try {
    commit = ` at ${first('git', ['-C', root, 'describe', '--always', '--dirty'])}`;
  } catch {
    // Not a git checkout: the version alone.
  }
  return `backy ${pkg.version}${commit} (Node ${process.version}), ${first('restic', ['version']).split(' compiled')[0]}, ${first('borg', ['--version'])}, Linux ${first('uname', ['-r'])}`;
}

const SETUP = [
  'One generated image (64 MiB stripes: random data, holes, compressible text; seeded) and a copy of it with 1% overwritten in random 64 KiB blocks, both on the host\'s ext4 under /var/tmp; the source path is a hard link switched from the first to the second between the full and the incremental backup.',
  'Each repetition runs every tool from an empty repository through full backup, incremental backup and restore of the newest backup; the order of the tools rotates by one per repetition.',
  'backy-btrfs keeps its job directory on a btrfs loop filesystem, backy-ext4 on an ext4 one; restic and borg keep their repositories on that same ext4 filesystem (one tool at a time; neither can share blocks with reflinks, so btrfs would not help them), with their caches beside the repository on it (restic `--cache-dir` via RESTIC_CACHE_DIR, borg BORG_BASE_DIR) and not counted as growth.',
  'Commands: `backy init file SRC`, `backy backup TAG`, `backy restore -r 0 TARGET`; `restic init`, `restic backup`, `restic restore latest --target DIR` (restic 0.14 cannot restore sparse files); `borg init --encryption=none`, `borg create` (default lz4), `borg extract --sparse`.',
  'Every loop device reads and writes its backing file with direct I/O (`losetup --direct-io=on`), so data is cached once, as on a disk, and a flush is not a second copy through memory.',
  'Every restore goes to a third loop filesystem (ext4); its time runs until the restored data is on disk (`sync -f` on the restored file right after the tool exits: restic and borg write through the page cache and do not flush; backy writes with direct I/O, so its data is on the disk already and the sync flushes metadata), and it is compared with `cmp` against the changed image, outside the timing.',
  'Before each step `sync` runs, the page cache is emptied (`drop_caches`, so that no step pays for reclaiming memory an earlier one filled) and the files the step reads first are read twice (for a backup the source, and backy\'s parent image on btrfs, restic\'s cache, borg\'s cache and index; for a restore the newest revision or the whole repository), so every tool starts from the same warm page cache; how much of them was cached when the step started is measured with `fincore` (lowest of the repetitions in the table).',
  'Wall time is measured around the command, CPU time (user + system) and peak RSS by GNU time; peak RSS is the highest of the repetitions.',
  'Growth is the filesystem\'s used bytes after the step minus before it, after `sync` (btrfs: `btrfs filesystem sync`, then "Used" from `btrfs filesystem usage`, i.e. data plus metadata as stored, DUP metadata twice, shared extents once; ext4: statfs, as `df`), with only that tool\'s repository on the filesystem. The cross-check is the repository directory\'s allocated bytes (btrfs: exclusive + set shared from `btrfs filesystem du -s`, data only; ext4: `du -s`).',
].join(' ');

export async function run(options: PeersBenchOptions = {}): Promise<string> {
  const started = Date.now();
  const size = Math.round((options.sizeGiB ?? Number(process.env.BENCH_SIZE_GIB ?? 4)) * GiB);
  const reps = options.repetitions ?? Number(process.env.BENCH_REPS ?? 3);
  const uptimeBefore = execFileSync('uptime', { encoding: 'utf8' }).trim();
  const work = mkdtempSync(join(options.workDir ?? '/var/tmp', 'backy-bench-peers-'));
  const mounted: LoopFilesystem[] = [];
  const mount = (type: 'btrfs' | 'ext4', bytes: number) => {
    const fs = mountLoopFilesystem(type, loopSize(bytes), { dir: work, directIo: true });
    mounted.push(fs);
    return fs;
  };
  try {
    // backy on btrfs: the full image's data (two thirds) plus small increments.
    const btrfs = mount('btrfs', size * 1.25 + 2 * GiB);
    // Two full sparse revisions of backy on ext4, or one tool's compressed repository.
    const ext4 = mount('ext4', size * 1.75 + 2 * GiB);
    // restic writes its restores dense.
    const restoreFs = mount('ext4', size * 1.25 + GiB);
    const images = join(work, 'images');
    const sourceDir = join(work, 'source');
    mkdirSync(images);
    mkdirSync(sourceDir);
    const full = join(images, 'full.img');
    const changed = join(images, 'changed.img');
    await generateImage(full, size);
    execFileSync('cp', ['--sparse=always', full, changed]);
    const changedBytes = await mutateImage(changed, 0.01, 64 * 1024, 'peers');
    const source = join(sourceDir, 'disk.img');
    const tools = [backyTool('backy-btrfs', btrfs, source), backyTool('backy-ext4', ext4, source), resticTool(ext4, source), borgTool(ext4, source)];
    const samples = emptySamples();
    const bench: Bench = { source, full, changed, restoreFs, samples, log: (line) => console.error(`peers: ${line}`) };
    for (let rep = 0; rep < reps; rep++) {
      for (const tool of rotated(tools, rep)) {
        bench.log(`repetition ${rep + 1}/${reps}: ${tool.name}`);
        await runTool(tool, bench);
      }
    }
    return peersReport(
      samples,
      {
        sizeBytes: size,
        repetitions: reps,
        changedBytes,
        uptimeBefore,
        uptimeAfter: execFileSync('uptime', { encoding: 'utf8' }).trim(),
        versions: versions(),
        totalSeconds: (Date.now() - started) / 1000,
      },
      explainLoss,
      SETUP,
    );
  } finally {
    for (const fs of mounted.reverse()) fs.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const report = await run();
  const resultsDir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'peers.md'), `# backy benchmark: peers\n\n${report}\n`);
  console.log(report);
}
