import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import YAML from 'yaml';
import { serializeStatus } from '../../src/scheduler/status-file.js';
import { BACKY_MAIN } from '../helpers/cli.js';
import { mountLoopFilesystem } from '../helpers/loop-fs.js';
import { waitFor } from '../scheduler/harness.js';
import { parsePluginOutput, snapshotAt, type JobSpec } from './status-fixtures.js';

// `backy check` runs under faketime with a frozen clock, so ages (and the whole line) are exact.
const NOW = new Date('2026-01-10T10:00:00Z');

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'backy-check-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Setup {
  name: string;
  config?: string;
  status?: string;
}

/**
 * Writes `{dir}/{name}/backy.conf` (base-dir = that directory, and the jobs
 * of the status file, unless the configuration is given) and its status file.
 */
function setup({ name, config, status }: Setup): { conf: string; base: string } {
  const base = join(dir, name);
  mkdirSync(base);
  const conf = join(base, 'backy.conf');
  writeFileSync(conf, config ?? `global:\n  base-dir: ${base}\njobs:\n${jobsOf(status).map((job) => `  ${job}: {schedule: default, source: {type: file, filename: /srv/${job}.img}}\n`).join('')}`);
  if (status !== undefined) writeFileSync(join(base, 'status'), status);
  return { conf, base };
}

/** The job names of a status file, if it is one. */
function jobsOf(status: string | undefined): string[] {
  try {
    return (YAML.parse(status ?? '') as { jobs: Array<{ name: string }> }).jobs.map((job) => job.name);
  } catch {
    return [];
  }
}

function check(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('faketime', ['-f', '2026-01-10 10:00:00', process.execPath, BACKY_MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const jobs = (...hoursAgo: Array<number | null>): JobSpec[] =>
  hoursAgo.map((h, i) => ({ name: `test${String(i + 1).padStart(2, '0')}`, lastBackupHoursAgo: h }));

test('every job within SLA: OK, exit 0, one line with Nagios performance data, nothing on stderr', () => {
  const { conf } = setup({ name: 'fresh', status: serializeStatus(snapshotAt(NOW, jobs(1, 20, 35.5))) });
  const result = check(['-c', conf, 'check']);
  assert.equal(result.stdout, 'OK: all 3 jobs within SLA | jobs=3;;;0 overdue=0;;0;0;3 oldest_backup_age=127800s;;;0 distrusted=0;;0;0 oldest_verification_age=0s;;;0\n');
  assert.equal(result.stderr, '');
  assert.equal(result.status, 0);
  assert.deepEqual(parsePluginOutput(result.stdout), {
    text: 'OK: all 3 jobs within SLA',
    perfdata: [
      { label: 'jobs', value: 3, uom: '', warn: '', crit: '', min: '0', max: '' },
      { label: 'overdue', value: 0, uom: '', warn: '', crit: '0', min: '0', max: '3' },
      { label: 'oldest_backup_age', value: 127800, uom: 's', warn: '', crit: '', min: '0', max: '' },
      { label: 'distrusted', value: 0, uom: '', warn: '', crit: '0', min: '0', max: '' },
      { label: 'oldest_verification_age', value: 0, uom: 's', warn: '', crit: '', min: '0', max: '' },
    ],
  });
});

test('-c works after the action too', () => {
  const { conf } = setup({ name: 'after', status: serializeStatus(snapshotAt(NOW, jobs(1))) });
  const result = check(['check', '-c', conf]);
  assert.equal(result.status, 0);
  assert.equal(result.stdout, 'OK: 1 job within SLA | jobs=1;;;0 overdue=0;;0;0;1 oldest_backup_age=3600s;;;0 distrusted=0;;0;0 oldest_verification_age=0s;;;0\n');
});

test('overdue jobs: CRITICAL, exit 2, the first few named (most overdue first) with a count', () => {
  const spec = [...jobs(80, 60, 40, 1, 2, 3, 4, 5, 6, 7), { name: 'never', lastBackupHoursAgo: null, firstSeenHoursAgo: 2 }];
  const { conf } = setup({ name: 'overdue', status: serializeStatus(snapshotAt(NOW, spec)) });
  const result = check(['-c', conf, 'check']);
  assert.equal(result.status, 2);
  assert.equal(
    result.stdout,
    'CRITICAL: 3 of 11 jobs overdue: test01, test02, test03 | jobs=11;;;0 overdue=3;;0;0;11 oldest_backup_age=288000s;;;0 distrusted=0;;0;0 oldest_verification_age=0s;;;0\n',
  );
  const { perfdata } = parsePluginOutput(result.stdout);
  assert.deepEqual(
    perfdata.map((d) => [d.label, d.value]),
    [['jobs', 11], ['overdue', 3], ['oldest_backup_age', 288000], ['distrusted', 0], ['oldest_verification_age', 0]],
  );
});

test('distrusted revisions: CRITICAL, each job named with its count (most first), the total in the perfdata', () => {
  const spec: JobSpec[] = [
    { name: 'db', lastBackupHoursAgo: 2, distrusted: 1, verifiedHoursAgo: 30 },
    { name: 'mail', lastBackupHoursAgo: 50, distrusted: 3, verifiedHoursAgo: 100 },
    { name: 'web', lastBackupHoursAgo: 1, verifiedHoursAgo: 5 },
  ];
  const { conf } = setup({ name: 'distrusted', status: serializeStatus(snapshotAt(NOW, spec)) });
  const result = check(['-c', conf, 'check']);
  assert.equal(result.status, 2);
  assert.equal(
    result.stdout,
    'CRITICAL: 1 of 3 jobs overdue: mail; 2 of 3 jobs with distrusted revisions: mail (3), db (1) | ' +
      'jobs=3;;;0 overdue=1;;0;0;3 oldest_backup_age=180000s;;;0 distrusted=4;;0;0 oldest_verification_age=360000s;;;0\n',
  );
  parsePluginOutput(result.stdout);
});

test('many overdue jobs: five named, the rest counted; a job never backed up is overdue 1.5 intervals after it appeared', () => {
  const spec: JobSpec[] = Array.from({ length: 1000 }, (_, i) => ({
    name: `vm${String(i).padStart(4, '0')}`,
    lastBackupHoursAgo: i < 7 ? 100 - i : 1,
  }));
  spec.push({ name: 'vm-new', lastBackupHoursAgo: null, firstSeenHoursAgo: 37 });
  const { conf } = setup({ name: 'many', status: serializeStatus(snapshotAt(NOW, spec)) });
  const result = check(['-c', conf, 'check']);
  assert.equal(result.status, 2);
  assert.equal(
    parsePluginOutput(result.stdout).text,
    'CRITICAL: 8 of 1001 jobs overdue: vm0000, vm0001, vm0002, vm0003, vm0004 and 3 more',
  );
});

test('a status file older than five minutes: CRITICAL, the scheduler is dead or hung', () => {
  const { conf } = setup({ name: 'stale', status: serializeStatus(snapshotAt(NOW, jobs(1, 2), 301)) });
  const result = check(['-c', conf, 'check']);
  assert.equal(result.status, 2);
  assert.equal(
    result.stdout,
    'CRITICAL: status file not updated for 5m 1s (written 2026-01-10 09:54:59 UTC): the scheduler is dead or hung | ' +
      'jobs=2;;;0 overdue=0;;0;0;2 oldest_backup_age=7200s;;;0 distrusted=0;;0;0 oldest_verification_age=0s;;;0\n',
  );
  const fresh = setup({ name: 'five-minutes', status: serializeStatus(snapshotAt(NOW, jobs(1, 2), 300)) });
  assert.equal(check(['-c', fresh.conf, 'check']).status, 0);
});

test('a long status-interval stretches the dead-scheduler limit to two intervals', () => {
  const status = serializeStatus(snapshotAt(NOW, jobs(1), 900));
  const slow = setup({ name: 'slow', config: `config:\n  base-dir: ${join(dir, 'slow')}\n  status-interval: 600\n`, status });
  assert.equal(check(['-c', slow.conf, 'check']).status, 0);
});

test('a status-interval the scheduler refuses (.inf, a day) does not stretch the limit: a dead scheduler is still found', () => {
  // The scheduler accepts 1 to 3600 s and keeps its old configuration on a refused reload, so it writes as before.
  const status = serializeStatus(snapshotAt(NOW, jobs(1), 3 * 86400));
  for (const interval of ['.inf', '86400', '1e12']) {
    const name = `refused-interval-${interval.replace(/\W/g, '')}`;
    const { conf } = setup({ name, config: `config:\n  base-dir: ${join(dir, name)}\n  status-interval: ${interval}\njobs:\n  test01: {}\n`, status });
    const result = check(['-c', conf, 'check']);
    assert.equal(result.status, 2, `${interval}: ${result.stdout}`);
    assert.match(result.stdout, /^CRITICAL: status file not updated for 3d \(written 2026-01-07 10:00:00 UTC\): the scheduler is dead or hung/, interval);
  }
});

test('status-file in the configuration is where check looks', () => {
  const base = join(dir, 'elsewhere');
  mkdirSync(base);
  writeFileSync(join(base, 'scheduler.yaml'), serializeStatus(snapshotAt(NOW, jobs(1))));
  const { conf } = setup({ name: 'status-file', config: `config:\n  status-file: ${join(base, 'scheduler.yaml')}\n` });
  assert.equal(check(['-c', conf, 'check']).status, 0);
});

test('missing status file: UNKNOWN, exit 3', () => {
  const { conf, base } = setup({ name: 'no-status' });
  const result = check(['-c', conf, 'check']);
  assert.equal(result.stdout, `UNKNOWN: cannot read status file ${base}/status: no such file or directory\n`);
  assert.equal(result.stderr, '');
  assert.equal(result.status, 3);
});

test('corrupt status files: UNKNOWN naming what is wrong', () => {
  const truncated = serializeStatus(snapshotAt(NOW, jobs(1, 2))).slice(0, 300);
  const cases: Array<[string, string, string]> = [
    ['garbage', '{{{ not yaml', 'status file {base}/status is malformed: invalid YAML: '],
    ['empty', '', 'status file {base}/status is malformed: the file is empty'],
    ['truncated', truncated, 'status file {base}/status is malformed: '],
    ['wrong-format', 'format: 2\n', 'status file {base}/status is malformed: unsupported format 2'],
  ];
  for (const [name, content, expected] of cases) {
    const { conf, base } = setup({ name: `corrupt-${name}`, status: content });
    const result = check(['-c', conf, 'check']);
    assert.equal(result.status, 3, name);
    assert.ok(result.stdout.startsWith(`UNKNOWN: ${expected.replace('{base}', base)}`), `${name}: ${result.stdout}`);
    assert.equal(result.stdout.split('\n').length, 2, name);
  }
});

test('a status file of a few hundred bytes whose aliases expand a billion times: UNKNOWN at once, not a hang', () => {
  const levels = ['l0: &l0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i <= 9; i++) levels.push(`l${i}: &l${i} [${Array.from({ length: 10 }, () => `*l${i - 1}`).join(', ')}]`);
  const status = `format: 1\nwritten: 2026-01-10T09:59:40.000Z\n${levels.join('\n')}\nscheduler: *l9\njobs: []\n`;
  const { conf, base } = setup({ name: 'alias-bomb', config: `global:\n  base-dir: ${join(dir, 'alias-bomb')}\njobs: {}\n`, status });
  // Expanding them would not end within the timeout: the answer itself shows they were refused unexpanded.
  const result = spawnSync('faketime', ['-f', '2026-01-10 10:00:00', process.execPath, BACKY_MAIN, '-c', conf, 'check'], {
    encoding: 'utf8',
    env: { ...process.env, TZ: 'UTC' },
    timeout: 30_000,
    killSignal: 'SIGKILL',
  });
  assert.equal(result.stdout, `UNKNOWN: status file ${base}/status is malformed: it uses YAML aliases (the scheduler writes none)\n`);
  assert.equal(result.status, 3);
});

test('a status file that is a directory or unreadable: UNKNOWN', () => {
  const { conf, base } = setup({ name: 'status-dir' });
  mkdirSync(join(base, 'status'));
  const result = check(['-c', conf, 'check']);
  assert.equal(result.stdout, `UNKNOWN: status file ${base}/status is a directory, not a regular file\n`);
  assert.equal(result.status, 3);
});

test('missing or broken configuration: UNKNOWN, exit 3', () => {
  const missing = join(dir, 'nonexistent.conf');
  let result = check(['-c', missing, 'check']);
  assert.equal(result.stdout, `UNKNOWN: cannot read configuration ${missing}: no such file or directory\n`);
  assert.equal(result.status, 3);

  const broken = setup({ name: 'broken-conf', config: 'global:\n  base-dir: [unclosed\n' });
  result = check(['-c', broken.conf, 'check']);
  assert.match(result.stdout, new RegExp(`^UNKNOWN: configuration ${broken.conf} is not valid YAML: .+\n$`));
  assert.equal(result.status, 3);

  const both = setup({ name: 'both-sections', config: 'global: {}\nconfig: {}\n' });
  result = check(['-c', both.conf, 'check']);
  assert.equal(result.stdout, `UNKNOWN: configuration ${both.conf}: both "config" and "global" sections given; use one\n`);
  assert.equal(result.status, 3);
});

test('check needs no write access: it answers from a read-only mount', (t) => {
  const { base } = setup({ name: 'read-only', status: serializeStatus(snapshotAt(NOW, jobs(1))) });
  const mountpoint = join(dir, 'ro-mount');
  mkdirSync(mountpoint);
  execFileSync('mount', ['--bind', base, mountpoint]);
  t.after(() => execFileSync('umount', [mountpoint]));
  execFileSync('mount', ['-o', 'remount,ro,bind', mountpoint]);
  writeFileSync(join(base, 'backy.conf'), `global:\n  base-dir: ${mountpoint}\njobs:\n  test01: {}\n`);
  chmodSync(join(base, 'status'), 0o444);
  assert.throws(() => writeFileSync(join(mountpoint, 'probe'), 'x'), { code: 'EROFS' });
  const result = check(['-c', join(mountpoint, 'backy.conf'), 'check']);
  assert.equal(result.stdout, 'OK: 1 job within SLA | jobs=1;;;0 overdue=0;;0;0;1 oldest_backup_age=3600s;;;0 distrusted=0;;0;0 oldest_verification_age=0s;;;0\n');
  assert.equal(result.status, 0);
});

test('check judges the configured jobs: one missing from the status file is CRITICAL; unconfigured ones are ignored, and said so', () => {
  const status = serializeStatus(snapshotAt(NOW, jobs(1, 2, 3)));
  const base = join(dir, 'configured');
  // A mistake the scheduler would refuse (the manual's trailing comma) does not stop check.
  const config = `global:\n  base-dir: ${base}\njobs:\n  test01: {schedule: default, source: {type: "file,"}}\n  test02: {}\n  test09: {}\n`;
  const { conf } = setup({ name: 'configured', config, status });
  const result = check(['-c', conf, 'check']);
  assert.equal(
    result.stdout,
    'CRITICAL: 1 of 3 jobs not in the status file: test09 (the scheduler runs another configuration: reload it) ' +
      '(ignoring 1 job of the status file not in the configuration: test03) | jobs=3;;;0 overdue=0;;0;0;3 oldest_backup_age=7200s;;;0 distrusted=0;;0;0 oldest_verification_age=0s;;;0\n',
  );
  assert.equal(result.status, 2);
});

test('a status file written in the future beyond five minutes: UNKNOWN', () => {
  const { conf } = setup({ name: 'future', status: serializeStatus(snapshotAt(NOW, jobs(1), -2 * 86400)) });
  const result = check(['-c', conf, 'check']);
  assert.equal(
    result.stdout,
    "UNKNOWN: status file written in the future (2026-01-12 10:00:00 UTC, 2d ahead of this host's clock): compare this host's clock with the scheduler's\n",
  );
  assert.equal(result.status, 3);
});

test('a status file that is a FIFO, a device or far too big: UNKNOWN at once, never a hang', () => {
  const fifo = setup({ name: 'fifo' });
  execFileSync('mkfifo', [join(fifo.base, 'status')]);
  let result = check(['-c', fifo.conf, 'check']);
  assert.equal(result.stdout, `UNKNOWN: status file ${fifo.base}/status is a FIFO, not a regular file\n`);
  assert.equal(result.status, 3);

  const device = setup({ name: 'device' });
  symlinkSync('/dev/zero', join(device.base, 'status'));
  result = check(['-c', device.conf, 'check']);
  assert.equal(result.stdout, `UNKNOWN: status file ${device.base}/status is a character device, not a regular file\n`);

  const huge = setup({ name: 'huge' });
  writeFileSync(join(huge.base, 'status'), '');
  truncateSync(join(huge.base, 'status'), 64 * 1024 ** 3);
  result = check(['-c', huge.conf, 'check']);
  assert.equal(result.stdout, `UNKNOWN: status file ${huge.base}/status is 65536 MiB, more than any status file (8 MiB)\n`);
  assert.equal(result.status, 3);
});

test('a configuration that is a FIFO, a device or far too big: UNKNOWN at once, and check ends', () => {
  // A FIFO used to be opened in this process: check said UNKNOWN after 8 s but never exited, its I/O thread stuck in open.
  const fifo = join(dir, 'fifo.conf');
  execFileSync('mkfifo', [fifo]);
  // Opened, the FIFO would block until the timeout: the line names what it is, found before any open.
  let result = spawnSync(process.execPath, [BACKY_MAIN, '-c', fifo, 'check'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.stdout, `UNKNOWN: configuration ${fifo} is a FIFO, not a regular file\n`);
  assert.equal(result.status, 3);

  result = spawnSync(process.execPath, [BACKY_MAIN, '-c', '/dev/zero', 'check'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.stdout, 'UNKNOWN: configuration /dev/zero is a character device, not a regular file\n');
  assert.equal(result.status, 3);

  const huge = join(dir, 'huge.conf');
  writeFileSync(huge, '');
  truncateSync(huge, 64 * 1024 ** 2);
  result = spawnSync(process.execPath, [BACKY_MAIN, '-c', huge, 'check'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(result.stdout, `UNKNOWN: configuration ${huge} is 64 MiB, more than any configuration (8 MiB)\n`);
  assert.equal(result.status, 3);
});

test('a status file on a disk that does not answer: UNKNOWN within the plugin timeout', async (t) => {
  // Reads of the check process from this loop device are throttled to 1 KiB/s (a blkio cgroup):
  // the status file (2 MiB, not cached: the filesystem is mounted afresh) would take half an hour.
  const disk = mountLoopFilesystem('ext4', '64M', { dir });
  const group = `/sys/fs/cgroup/blkio/backy-check-${process.pid}`;
  const throttle = (rate: number) => writeFileSync(join(group, 'blkio.throttle.read_bps_device'), `${majorMinor} ${rate}`);
  let majorMinor = '';
  t.after(async () => {
    if (majorMinor) {
      // Lift the limit first, so that the killed reader's queued reads finish and the filesystem can be unmounted.
      throttle(0);
      await waitFor('the reader to end', () => readFileSync(join(group, 'cgroup.procs'), 'utf8').trim() === '');
      rmdirSync(group);
    }
    disk.dispose();
  });
  const { conf } = setup({ name: 'hung-disk', config: `global:\n  status-file: ${disk.path}/status\n` });
  writeFileSync(join(disk.path, 'status'), serializeStatus(snapshotAt(NOW, jobs(...Array.from({ length: 5000 }, () => 1)))));
  execFileSync('umount', [disk.path]);
  execFileSync('mount', ['-o', 'loop', join(dirname(disk.path), 'fs.img'), disk.path]);
  mkdirSync(group);
  majorMinor = execFileSync('findmnt', ['-n', '-o', 'MAJ:MIN', disk.path], { encoding: 'utf8' }).trim();
  throttle(1024);
  const checking = spawn('sh', ['-c', `echo $$ > ${group}/cgroup.procs && exec "$@"`, 'sh', process.execPath, BACKY_MAIN, '-c', conf, 'check'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  checking.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  const code = await new Promise<number | null>((resolve) => checking.once('exit', resolve));
  assert.equal(stdout, 'UNKNOWN: no answer from the configuration or status file within 8 s (a hung filesystem?)\n');
  assert.equal(code, 3);
});
