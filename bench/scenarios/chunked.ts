/**
 * The chunked store against restic and borg, job directory and
 * repositories on ext4 (the issue's targets), then what only backy does:
 * eight jobs cloned from one template sharing a pool, peak memory on a
 * large sparse image, the chunk size measured, and what a revision's index
 * and the pool's files cost at scale.
 *
 * `npm run bench -- --only chunked` (BENCH_REPS, default 1; BENCH_SIZE_GIB,
 * default 4; BENCH_SCALE_GIB, the sparse image for the scale figures,
 * default 32); writes bench/results/chunked.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { BACKY_MAIN } from '../../test/helpers/cli.js';
import { ChunkPool } from '../../src/store/chunked/chunk-pool.js';
import { mountLoopFilesystem, type LoopFilesystem } from '../../test/helpers/loop-fs.js';
import { generateImage, mutateImage } from '../lib/image.js';
import { measure, median } from '../lib/measure.js';
import { directoryBytes, settledUsedBytes } from '../lib/peers/space.js';
import type { Sample, Step } from '../lib/peers/summary.js';
import { backyTool, borgTool, resticTool, type PeerTool } from '../lib/peers/tools.js';
import { loopSize, runTool, versions, type Bench } from './peers.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const backy = (args: string[]) => execFileSync(process.execPath, [BACKY_MAIN, ...args], { stdio: 'ignore' });


function fileCount(path: string): number {
  return Number(execFileSync('sh', ['-c', `find ${path} -type f | wc -l`], { encoding: 'utf8' }).trim());
}

/** The three tools through full, incremental and restore, as in the peers benchmark. */
async function againstPeers(bench: Omit<Bench, 'samples'>, ext4: LoopFilesystem, reps: number) {
  const tools: PeerTool[] = [backyTool('backy-chunked', ext4, bench.source), resticTool(ext4, bench.source), borgTool(ext4, bench.source)];
  const samples = Object.fromEntries(tools.map((t) => [t.name, { full: [], incremental: [], restore: [] }])) as unknown as Bench['samples'];
  for (let rep = 0; rep < reps; rep++) {
    for (const tool of [...tools.slice(rep % 3), ...tools.slice(0, rep % 3)]) await runTool(tool, { ...bench, samples });
  }
  const med = (list: Sample[], key: 'wallSeconds' | 'growthBytes' | 'maxRssBytes' | 'cpuSeconds') => median(list.map((s) => s[key] ?? NaN));
  const get = (name: string, step: Step, key: Parameters<typeof med>[1]) => med((samples as Record<string, Record<Step, Sample[]>>)[name]![step], key);
  return { get, samples };
}

/** Eight jobs in one base directory, each backing up the template changed by its own 1 %. */
export async function clones(work: string, fs: LoopFilesystem): Promise<{ oneJob: number; pool: number; ratio: number }> {
  const base = join(fs.path, 'clones');
  const template = join(work, 'template.img');
  await generateImage(template, GiB, 'template');
  let oneJob = 0;
  for (let i = 0; i < 8; i++) {
    const source = join(work, `clone-${i}.img`);
    execFileSync('cp', ['--sparse=always', template, source]);
    await mutateImage(source, 0.01, 64 * 1024, `clone-${i}`);
    const job = join(base, `vm${i}`);
    mkdirSync(job, { recursive: true });
    writeFileSync(join(job, 'config'), `type: file\nfilename: ${source}\nstore: chunked\nchunk_pool: shared\n`);
    backy(['-b', job, 'backup', 'daily']);
    rmSync(source);
    if (i === 0) oneJob = directoryBytes(fs, join(base, '.chunks'));
  }
  const pool = directoryBytes(fs, join(base, '.chunks'));
  rmSync(base, { recursive: true, force: true });
  return { oneJob, pool, ratio: pool / oneJob };
}

/** Full and incremental backup of one job with each chunk size: time, and what the pool grew by. */
export async function chunkSizes(fs: LoopFilesystem, full: string, changed: string, source: string) {
  const rows: string[] = [];
  for (const size of [32, 64, 128, 256].map((k) => k * 1024)) {
    const job = join(fs.path, `size-${size}`);
    execFileSync('ln', ['-f', full, source]);
    backy(['-b', job, 'init', '--store', 'chunked', 'file', source]);
    await ChunkPool.open(join(job, 'chunks'), { create: true, chunkSize: size });
    const before = settledUsedBytes(fs);
    const f = await measure(process.execPath, [BACKY_MAIN, '-b', job, 'backup', 'full']);
    const afterFull = settledUsedBytes(fs);
    execFileSync('ln', ['-f', changed, source]);
    const inc = await measure(process.execPath, [BACKY_MAIN, '-b', job, 'backup', 'incremental']);
    const afterInc = settledUsedBytes(fs);
    const files = fileCount(join(job, 'chunks', 'chunks'));
    rows.push(
      `| ${size / 1024} KiB | ${f.wallSeconds.toFixed(2)} s | ${mib(afterFull - before)} | ${inc.wallSeconds.toFixed(2)} s | ${mib(afterInc - afterFull)} | ${files} |`,
    );
    rmSync(job, { recursive: true, force: true });
  }
  return ['| chunk size | full backup | growth | incremental | growth | chunk files |', '|---|---:|---:|---:|---:|---:|', ...rows].join('\n');
}

/** A large sparse image with data spread over it: what its backup needs in memory, and its index and files. */
export async function scale(work: string, fs: LoopFilesystem, sizeGiB: number) {
  const image = join(work, 'sparse.img');
  const handle = await open(image, 'w');
  const piece = Buffer.alloc(4 * MiB);
  try {
    await handle.truncate(sizeGiB * GiB);
    // 4 MiB of random data every 256 MiB: 1/64 of the image.
    for (let at = 0; at < sizeGiB * GiB; at += 256 * MiB) {
      for (let i = 0; i < piece.length; i += 4) piece.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
      await handle.write(piece, 0, piece.length, at);
    }
  } finally {
    await handle.close();
  }
  const job = join(fs.path, 'sparse-job');
  backy(['-b', job, 'init', '--store', 'chunked', 'file', image]);
  const first = await measure(process.execPath, [BACKY_MAIN, '-b', job, 'backup', 'daily']);
  const second = await measure(process.execPath, [BACKY_MAIN, '-b', job, 'backup', 'daily']);
  const indexes = readdirSync(job).filter((name) => name.endsWith('.index'));
  const indexApparent = Number(execFileSync('stat', ['-c', '%s', join(job, indexes[0]!)], { encoding: 'utf8' }).trim());
  const indexAllocated = Number(execFileSync('du', ['-B1', join(job, indexes[0]!)], { encoding: 'utf8' }).split(/\s/)[0]);
  const chunkFiles = fileCount(join(job, 'chunks', 'chunks'));
  rmSync(job, { recursive: true, force: true });
  rmSync(image);
  return { sizeGiB, rss: Math.max(first.maxRssBytes, second.maxRssBytes), seconds: first.wallSeconds, indexApparent, indexAllocated, chunkFiles };
}

export async function run(): Promise<string> {
  const started = Date.now();
  const size = Math.round(Number(process.env.BENCH_SIZE_GIB ?? 4) * GiB);
  const reps = Number(process.env.BENCH_REPS ?? 1);
  const scaleGiB = Number(process.env.BENCH_SCALE_GIB ?? 32);
  const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
  const uptimeBefore = uptime();
  const work = mkdtempSync(join('/var/tmp', 'backy-bench-chunked-'));
  const mounted: LoopFilesystem[] = [];
  const mount = (bytes: number) => {
    const fs = mountLoopFilesystem('ext4', loopSize(bytes), { dir: work, directIo: true });
    mounted.push(fs);
    return fs;
  };
  const log = (line: string) => console.error(`chunked: ${line}`);
  try {
    const ext4 = mount(size * 1.75 + 2 * GiB);
    const restoreFs = mount(size * 1.25 + GiB);
    const full = join(work, 'full.img');
    const changed = join(work, 'changed.img');
    await generateImage(full, size);
    execFileSync('cp', ['--sparse=always', full, changed]);
    const changedBytes = await mutateImage(changed, 0.01, 64 * 1024, 'peers');
    mkdirSync(join(work, 'source'));
    const source = join(work, 'source', 'disk.img');
    const loads: number[] = [];
    const peers = await againstPeers({ source, full, changed, restoreFs, log: (line) => (loads.push(loadavg()[0]!), log(line)) }, ext4, reps);
    const { get } = peers;
    const faster = (step: Step) => Math.min(get('restic', step, 'wallSeconds'), get('borg', step, 'wallSeconds'));
    const smaller = (step: Step) => Math.min(get('restic', step, 'growthBytes'), get('borg', step, 'growthBytes'));
    // Each part on its own: one that fails leaves the others' figures in the report.
    const attempt = async <T>(what: string, part: () => Promise<T>): Promise<T | string> => {
      log(what);
      try {
        return await part();
      } catch (err) {
        return `${what} failed: ${(err as Error).message}`;
      }
    };
    const clonedOrError = await attempt('eight clones of a template', () => clones(work, ext4));
    const sizes = await attempt('chunk sizes', () => chunkSizes(ext4, full, changed, source));
    const bigOrError = await attempt(`a ${scaleGiB} GiB sparse image`, () => scale(work, ext4, scaleGiB));
    const cloned = typeof clonedOrError === 'string' ? { oneJob: NaN, pool: NaN, ratio: NaN } : clonedOrError;
    const big = typeof bigOrError === 'string' ? { sizeGiB: scaleGiB, rss: NaN, seconds: NaN, indexApparent: NaN, indexAllocated: NaN, chunkFiles: NaN } : bigOrError;
    const b = (step: Step, key: 'wallSeconds' | 'growthBytes' | 'maxRssBytes' | 'cpuSeconds') => get('backy-chunked', step, key);
    const rss = Math.max(b('full', 'maxRssBytes'), b('incremental', 'maxRssBytes'), b('restore', 'maxRssBytes'));
    const target = (label: string, mine: string, limit: string, ok: boolean) => `| ${label} | ${mine} | ${limit} | ${ok ? 'yes' : '**no**'} |`;
    const table = (step: Step) =>
      `| ${step} | ${['backy-chunked', 'restic', 'borg'].map((t) => `${get(t, step, 'wallSeconds').toFixed(2)} s${step === 'restore' ? '' : `, +${mib(get(t, step, 'growthBytes'))}`} (CPU ${get(t, step, 'cpuSeconds').toFixed(1)} s, ${(get(t, step, 'maxRssBytes') / MiB).toFixed(0)} MiB)`).join(' | ')} |`;
    return [
      `## The chunked store on ext4 against restic and borg (${size / GiB} GiB image, ${mib(changedBytes)} changed, ${reps === 1 ? 'one run' : `median of ${reps}`})`,
      '',
      'The peers benchmark\'s images, commands and method (see bench/results/peers.md), with backy\'s job directory (`backy init --store chunked`, its pool inside) and the peers\' repositories on the same ext4 loop filesystem, one at a time; growth is the filesystem\'s used bytes (df).',
      '',
      `Versions: ${versions()}. Run took ${((Date.now() - started) / 60000).toFixed(1)} min (2 cores; a load above 2 means other work shared them): load at start \`${uptimeBefore}\`, at the end \`${uptime()}\`; 1-minute load when a step started: ${Math.min(...loads).toFixed(2)} to ${Math.max(...loads).toFixed(2)}.`,
      '',
      '| step | backy-chunked | restic | borg |',
      '|---|---:|---:|---:|',
      table('full'),
      table('incremental'),
      table('restore'),
      '',
      '### Targets',
      '',
      '| target | backy-chunked | limit | met |',
      '|---|---:|---:|---|',
      target('full backup no slower than the faster peer', `${b('full', 'wallSeconds').toFixed(2)} s`, `${faster('full').toFixed(2)} s`, b('full', 'wallSeconds') <= faster('full')),
      target('full backup growth no larger than the smaller peer\'s', mib(b('full', 'growthBytes')), mib(smaller('full')), b('full', 'growthBytes') <= smaller('full')),
      target('incremental ≤ 0.5 × the faster peer\'s time', `${b('incremental', 'wallSeconds').toFixed(2)} s`, `${(faster('incremental') / 2).toFixed(2)} s`, b('incremental', 'wallSeconds') <= faster('incremental') / 2),
      target('incremental growth ≤ 0.5 × the smaller peer\'s', mib(b('incremental', 'growthBytes')), mib(smaller('incremental') / 2), b('incremental', 'growthBytes') <= smaller('incremental') / 2),
      target('restore ≤ 0.5 × the faster peer\'s time', `${b('restore', 'wallSeconds').toFixed(2)} s`, `${(faster('restore') / 2).toFixed(2)} s`, b('restore', 'wallSeconds') <= faster('restore') / 2),
      ...(typeof clonedOrError === 'string' ? [`| ${clonedOrError} | | | |`] : []),
      target('8 jobs cloned from a 1 GiB template, each changed 1 %: pool ≤ 1.3 × one job\'s', `${mib(cloned.pool)} = ${cloned.ratio.toFixed(2)} × ${mib(cloned.oneJob)}`, '1.30 ×', cloned.ratio <= 1.3),
      target(`peak memory, ${size / GiB} GiB image`, `${(rss / MiB).toFixed(0)} MiB`, '200 MiB', rss < 200 * MiB),
      target(`peak memory, ${big.sizeGiB} GiB sparse image`, `${(big.rss / MiB).toFixed(0)} MiB`, '200 MiB', big.rss < 200 * MiB),
      '',
      `### Chunk sizes (one job, ${size / GiB} GiB image, full then incremental backup)`,
      '',
      sizes,
      '',
      `### Scale (a ${big.sizeGiB} GiB sparse image, 1/64 of it data)`,
      '',
      typeof bigOrError === 'string' ? bigOrError : `Full backup ${big.seconds.toFixed(1)} s; a revision's index: ${big.indexApparent} bytes (${big.indexAllocated} allocated: zero blocks' entries are holes); ${big.chunkFiles} chunk files in 256 directories.`,
    ].join('\n');
  } finally {
    for (const fs of mounted.reverse()) fs.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}
