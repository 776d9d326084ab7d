/**
 * Using a revision without copying it: `nbdcopy` from `backy serve` beside
 * `backy restore` of the same revision to the same filesystem, the
 * server's peak memory with four clients reading at once, and
 * `restore --rbd --instant` on the test cluster: how soon the image is
 * usable (for a 1 GiB and a 4 GiB revision), and the whole migration beside
 * `rbd import` of the same image.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BACKY_MAIN } from '../../test/helpers/cli.js';
import { startCephCluster, type CephCluster } from '../../test/helpers/ceph-cluster.js';
import { mountLoopFilesystem } from '../../test/helpers/loop-fs.js';
import { generateImage } from '../lib/image.js';
import { measure, measureShell, median } from '../lib/measure.js';
import { markdownTable, mib, ratio, seconds, type Row } from '../lib/report.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export interface ServeBenchOptions {
  sizeGiB?: number;
  repetitions?: number;
  workDir?: string;
}

/** Empties the page cache, then reads `paths` once: both tools of a comparison start equally warm. */
function warm(...paths: string[]): void {
  execFileSync('sh', ['-c', 'sync; echo 1 > /proc/sys/vm/drop_caches; for f in "$@"; do cat "$f" > /dev/null; done', 'sh', ...paths]);
}

interface Server {
  uri: string;
  pid: number;
  stop(): Promise<void>;
}

function startServe(job: string): Promise<Server> {
  const child = spawn(process.execPath, [BACKY_MAIN, '-b', job, 'serve', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve({ uri: out.trim(), pid: child.pid!, stop: async () => void (child.kill('SIGTERM'), await exited) });
    });
    void exited.then(() => reject(new Error('backy serve ended before it listened')));
  });
}

function peakRss(pid: number): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return hwm ? Number(hwm[1]) * 1024 : 0;
}

function backupJob(job: string, source: string): string {
  execFileSync(process.execPath, [BACKY_MAIN, '-b', job, 'init', 'file', source]);
  execFileSync(process.execPath, [BACKY_MAIN, '-b', job, 'backup', 'bench'], { stdio: 'ignore' });
  return readlinkSync(join(job, 'last'));
}

/** `restore --rbd --instant`: seconds from its start until it says the image is usable, and until it exits. */
function instantRestore(cluster: CephCluster, job: string, image: string): Promise<{ usable: number; total: number }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    const child = spawn(process.execPath, [BACKY_MAIN, '-b', job, 'restore', '--rbd', image, '--instant'], { env: cluster.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let usable = 0;
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (!usable && d.includes('is usable now')) usable = elapsed();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => (code === 0 && usable ? resolve({ usable, total: elapsed() }) : reject(new Error(`restore --instant failed (${code}): ${stderr.trim()}`))));
  });
}

export async function run(options: ServeBenchOptions = {}): Promise<string> {
  const size = (options.sizeGiB ?? 4) * GiB;
  const reps = options.repetitions ?? 3;
  const work = mkdtempSync(join(options.workDir ?? '/var/tmp', 'backy-bench-serve-'));
  const fs = mountLoopFilesystem('btrfs', `${Math.ceil((size * 1.5 + GiB) / GiB) + 2}G`, { dir: work, directIo: true });
  let cluster: CephCluster | null = null;
  try {
    const source = join(work, 'source.img');
    await generateImage(source, size);
    const job = join(fs.path, 'job');
    const id = backupJob(job, source);
    const small = join(work, 'small.img');
    await generateImage(small, GiB, 'backy-bench-small');
    const smallJob = join(fs.path, 'small-job');
    backupJob(smallJob, small);
    rmSync(small);
    const restoreDir = join(work, 'restore');
    mkdirSync(restoreDir);
    const target = join(restoreDir, 'restored.img');

    const server = await startServe(job);
    const t = { restore: [] as number[], nbdcopy: [] as number[] };
    let identical = true;
    let serverPeak = 0;
    try {
      for (let rep = 0; rep < reps; rep++) {
        const steps = [
          async () => {
            warm(join(job, id));
            t.restore.push((await measureShell(`${process.execPath} ${BACKY_MAIN} -b ${job} restore -r ${id} ${target} && sync`)).wallSeconds);
            if (rep === 0) execFileSync('mv', [target, `${target}.restore`]);
            rmSync(target, { force: true });
          },
          async () => {
            warm(join(job, id));
            t.nbdcopy.push((await measureShell(`nbdcopy ${server.uri} ${target} && sync`)).wallSeconds);
            if (rep === 0) {
              identical = execFileSync('sh', ['-c', `cmp ${target} ${target}.restore && echo same || true`], { encoding: 'utf8' }).trim() === 'same';
              rmSync(`${target}.restore`, { force: true });
            }
            rmSync(target, { force: true });
          },
        ];
        // The first rep keeps the restore for the comparison; later ones alternate which goes first.
        if (rep % 2 === 1) steps.reverse();
        for (const step of steps) await step();
      }
      warm(join(job, id));
      // Four clients at once, four connections each, reading everything.
      await Promise.all([1, 2, 3, 4].map(() => measure('nbdcopy', [server.uri, 'null:'])));
    } finally {
      serverPeak = peakRss(server.pid);
      await server.stop();
    }

    cluster = await startCephCluster({ memstoreBytes: size + 3 * GiB, timeoutMs: 120_000 });
    const pool = cluster.pool;
    const smallInstant = await instantRestore(cluster, smallJob, `${pool}/instant-1g`);
    cluster.rbd(['rm', '--no-progress', `${pool}/instant-1g`]);
    const bigInstant = await instantRestore(cluster, job, `${pool}/instant`);
    cluster.rbd(['rm', '--no-progress', `${pool}/instant`]);
    const imported = await measure('rbd', ['import', '--no-progress', source, `${pool}/imported`], { env: cluster.env });
    cluster.rbd(['rm', '--no-progress', `${pool}/imported`]);

    const m = { restore: median(t.restore), nbdcopy: median(t.nbdcopy) };
    const rows: Row[] = [
      {
        figure: `nbdcopy from backy serve to a file + sync (median of ${reps})`,
        value: seconds(m.nbdcopy),
        baseline: `${seconds(m.restore)} (backy restore + sync)`,
        ratio: ratio(m.nbdcopy, m.restore),
        target: '<= 1.3 x restore',
        pass: m.nbdcopy <= 1.3 * m.restore,
      },
      { figure: 'each run (nbdcopy; restore)', value: `${t.nbdcopy.map((v) => v.toFixed(2)).join(', ')}; ${t.restore.map((v) => v.toFixed(2)).join(', ')} s` },
      { figure: 'nbdcopy output equals backy restore', value: identical ? 'yes' : 'no', target: 'yes', pass: identical },
      { figure: 'peak memory of backy serve, 4 nbdcopy clients at once (4 connections each)', value: mib(serverPeak), target: '< 150 MiB', pass: serverPeak < 150 * MiB },
      { figure: `restore --rbd --instant: usable after (${size / GiB} GiB)`, value: seconds(bigInstant.usable), baseline: `${seconds(smallInstant.usable)} (1 GiB)`, ratio: ratio(bigInstant.usable, smallInstant.usable), target: '<= 2 s, not growing with size', pass: bigInstant.usable <= 2 && bigInstant.usable <= smallInstant.usable * 1.5 + 0.2 },
      { figure: `restore --rbd --instant: whole migration (${size / GiB} GiB)`, value: seconds(bigInstant.total), baseline: `${seconds(imported.wallSeconds)} (rbd import of the image file)`, ratio: ratio(bigInstant.total, imported.wallSeconds) },
    ];
    return [
      `## Serving revisions (${size / GiB} GiB image)`,
      '',
      'Image: 64 MiB stripes of random data, holes and compressible text, backed up once into a job directory on a btrfs loop filesystem (direct I/O on its backing file). `backy restore` and `nbdcopy` (4 connections, the default) write to ext4 and are timed until `sync` returned; before each the page cache is dropped and the revision read once; the server runs throughout. Ceph: the test cluster (one monitor, one memstore OSD, 127.0.0.1); "usable" is when `restore --instant` says so, after `rbd migration prepare`; the whole migration includes `execute` and `commit`, and copies the holes too (a raw HTTP source has no way to skip them), where `rbd import` skips zeros.',
      '',
      markdownTable(rows),
    ].join('\n');
  } finally {
    fs.dispose();
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await run({ sizeGiB: Number(process.env.BENCH_SIZE_GIB ?? 4), repetitions: Number(process.env.BENCH_REPS ?? 3) }));
}
