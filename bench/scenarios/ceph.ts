/**
 * The ceph-rbd source on the test cluster (one monitor, one memstore OSD
 * on this machine): a full backup of a 2 GiB image beside `rbd export` of
 * the same snapshot to a file, then differential backups after 1% of the
 * image changed in random 64 KiB writes, and peak memory. Each backup's
 * restore is checked against `rbd export` of its snapshot.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { BACKY_MAIN } from '../../test/helpers/cli.js';
import { startCephCluster, type CephCluster } from '../../test/helpers/ceph-cluster.js';
import { mountLoopFilesystem } from '../../test/helpers/loop-fs.js';
import { generateImage } from '../lib/image.js';
import { measure, median } from '../lib/measure.js';
import { markdownTable, mib, ratio, seconds, type Row } from '../lib/report.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export interface CephBenchOptions {
  sizeGiB?: number;
  /** Differential backups to take the median of. */
  repetitions?: number;
  workDir?: string;
}

export async function run(options: CephBenchOptions = {}): Promise<string> {
  const size = (options.sizeGiB ?? 2) * GiB;
  const reps = options.repetitions ?? 5;
  const work = mkdtempSync(join(options.workDir ?? '/var/tmp', 'backy-bench-ceph-'));
  // memstore keeps the image and, per snapshot, a full copy of each object changed since (in RAM).
  const cluster = await startCephCluster({ memstoreBytes: size * 3 + 2 * GiB, timeoutMs: 120_000 });
  const fs = mountLoopFilesystem('btrfs', `${Math.ceil((size * 4) / GiB) + 2}G`, { dir: work, directIo: true });
  try {
    const image = `${cluster.pool}/bench`;
    const source = join(work, 'source.img');
    await generateImage(source, size);
    cluster.rbd(['import', '--no-progress', source, image]);
    rmSync(source);
    const settle = () => {
      execFileSync('sync');
      execFileSync('sleep', ['1']);
    };

    // Baseline: what rbd alone takes to read the image into a file (median of three).
    cluster.rbd(['snap', 'create', `${image}@baseline`]);
    const exportFile = join(fs.path, 'export.img');
    const baselines: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      settle();
      // Like a backup, the copy is only done when it is on disk: export, then sync.
      baselines.push((await measure('sh', ['-c', `rbd export --no-progress ${image}@baseline ${exportFile} && sync`], { env: cluster.env })).wallSeconds);
      rmSync(exportFile);
    }
    cluster.rbd(['snap', 'rm', '--no-progress', `${image}@baseline`]);

    // Full backups (median of three): first backups of fresh jobs.
    const fulls: number[] = [];
    let peakRss = 0;
    let job = '';
    for (let rep = 0; rep < 3; rep++) {
      if (job) rmSync(job, { recursive: true, force: true });
      job = join(fs.path, `job${rep}`);
      execFileSync(process.execPath, [BACKY_MAIN, '-b', job, 'init', 'ceph-rbd', image], { env: cluster.env });
      settle();
      const full = await runBacky([BACKY_MAIN, '-b', job, 'backup', 'full'], cluster.env);
      fulls.push(full.wallSeconds);
      peakRss = Math.max(peakRss, full.peakRssBytes);
    }
    const backy = (...args: string[]): Promise<Run> => runBacky([BACKY_MAIN, '-b', job, ...args], cluster.env);
    let correct = checkRestore(cluster, job, image, fs.path);

    const diffs: number[] = [];
    const written: number[] = [];
    const received: number[] = [];
    const changed = Math.round(size / 100);
    for (let rep = 0; rep < reps; rep++) {
      cluster.rbd(['bench', '--io-type', 'write', '--io-pattern', 'rand', '--io-size', '64K', '--io-total', String(changed), image]);
      // The restore check before wrote and deleted 4 GiB: let the filesystem settle.
      settle();
      const diff = await backy('backup', 'differential');
      diffs.push(diff.wallSeconds);
      peakRss = Math.max(peakRss, diff.peakRssBytes);
      const stats = lastStats(job);
      if (stats.transfer !== 'differential') throw new Error(`expected a differential backup, got ${String(stats.transfer)}`);
      written.push(Number(stats.bytes_written));
      received.push(Number(stats.bytes_read));
      correct &&= checkRestore(cluster, job, image, fs.path);
    }
    const m = { full: median(fulls), baseline: median(baselines), diff: median(diffs), written: median(written), received: median(received) };
    const rows: Row[] = [
      { figure: 'full backup incl. sample verification (median of 3)', value: seconds(m.full), baseline: `${seconds(m.baseline)} (rbd export to a file + sync)`, ratio: ratio(m.full, m.baseline) },
      { figure: 'differential backup (1% changed)', value: seconds(m.diff), baseline: `${seconds(m.full)} (full)`, ratio: ratio(m.diff, m.full), target: '<= 0.2 x full', pass: m.diff <= 0.2 * m.full },
      { figure: 'each run (full; differential)', value: `${fulls.map((t) => t.toFixed(2)).join(', ')}; ${diffs.map((t) => t.toFixed(2)).join(', ')} s` },
      { figure: 'differential: diff stream received', value: mib(m.received), baseline: `${mib(changed)} changed`, ratio: ratio(m.received, changed) },
      { figure: 'differential: bytes_written', value: mib(m.written), baseline: `${mib(changed)} changed`, ratio: ratio(m.written, changed), target: '<= 1.1 x changed', pass: m.written <= 1.1 * changed },
      { figure: `peak memory of backy (rbd export itself: ~300 MiB), ${size / GiB} GiB image`, value: mib(peakRss), target: '< 150 MiB', pass: peakRss < 150 * MiB },
      { figure: 'every restore equals rbd export of its snapshot', value: correct ? 'yes' : 'no', target: 'yes', pass: correct },
    ];
    return [
      `## Ceph RBD source (${size / GiB} GiB image; full: median of 3, differential: median of ${reps})`,
      '',
      'Test cluster on this machine: one monitor (proposing map changes every 50 ms rather than 1 s: snapshot create and remove wait for one), one OSD on memstore (RAM), 127.0.0.1. Image: 64 MiB stripes of random data, zeros and compressible text, imported with `rbd import`; changes: `rbd bench --io-type write --io-pattern rand --io-size 64K` of 1% of the image. Job directory on a btrfs loop filesystem (loop device with direct I/O on its backing file). Times include snapshotting, verification (1% sample through librbd) and removing the old snapshot.',
      '',
      markdownTable(rows),
    ].join('\n');
  } finally {
    fs.dispose();
    await cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

interface Run {
  wallSeconds: number;
  /** The backy process's own peak RSS (VmHWM), without the rbd and python3 it runs. */
  peakRssBytes: number;
}

/** Runs the CLI, sampling its peak RSS from /proc until it exits. */
function runBacky(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let peak = 0;
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const poll = setInterval(() => {
      try {
        const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (hwm) peak = Math.max(peak, Number(hwm[1]) * 1024);
      } catch {
        // exited between polls
      }
    }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`backy ${args.slice(1).join(' ')} failed (${code}): ${stderr.trim().split('\n').at(-1)}`));
      else resolve({ wallSeconds, peakRssBytes: peak });
    });
  });
}

function lastStats(job: string): Record<string, unknown> {
  return (YAML.parse(readFileSync(join(job, 'last.rev'), 'utf8')) as { stats: Record<string, unknown> }).stats;
}

/** Restores the newest revision and compares it with `rbd export` of its snapshot (kept until the next backup). */
function checkRestore(cluster: CephCluster, job: string, image: string, dir: string): boolean {
  const id = readlinkSync(join(job, 'last'));
  const exported = join(dir, 'check-export.img');
  const restored = join(dir, 'check-restore.img');
  try {
    cluster.rbd(['export', '--no-progress', `${image}@backy-${id}`, exported]);
    execFileSync(process.execPath, [BACKY_MAIN, '-b', job, 'restore', '-r', id, restored], { stdio: 'ignore' });
    return execFileSync('cmp', [exported, restored]).length === 0;
  } catch {
    return false;
  } finally {
    rmSync(exported, { force: true });
    rmSync(restored, { force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await run({ sizeGiB: Number(process.env.BENCH_SIZE_GIB ?? 2), repetitions: Number(process.env.BENCH_REPS ?? 5) }));
}
