/**
 * Bad input to the job-level commands: each gets one clear line on stderr,
 * exit status 1, and leaves every existing revision exactly as it was
 * (images, `.rev` files, `last` links and config compared byte for byte).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy, backyAsync } from '../helpers/cli.js';
import { assertOneLineError, fingerprintJob, revisionIds } from '../helpers/job-files.js';
import { attachLoopDevice } from '../helpers/loop-fs.js';

const MiB = 1024 * 1024;
let dir = '';
let job = '';
let otherJob = '';
let sourceDir = '';
let source = '';
let fingerprint: Record<string, string> = {};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'backy-bad-input-'));
  sourceDir = join(dir, 'vms');
  mkdirSync(sourceDir);
  source = join(sourceDir, 'vm1.img');
  job = join(dir, 'backy', 'vm1');
  otherJob = join(dir, 'backy', 'vm2');
  writeFileSync(source, randomBytes(2 * MiB));
  for (const [path, tags] of [
    [job, 'daily,weekly'],
    [job, 'daily'],
    [otherJob, 'daily'],
  ] as const) {
    if (!existsSync(path)) assert.equal(backy(['-b', path, 'init', 'file', source]).status, 0);
    const result = backy(['-b', path, 'backup', tags]);
    assert.equal(result.status, 0, result.stderr);
    writeFileSync(source, randomBytes(2 * MiB));
  }
  fingerprint = fingerprintJob(job);
  assert.equal(revisionIds(job).length, 2);
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs backy and checks: exit 1, one line on stderr matching `pattern`, the job untouched. */
function refused(args: string[], pattern: RegExp, options: { cwd?: string } = {}): string {
  const result = backy(args, options);
  assertOneLineError(result, pattern, `backy ${args.join(' ')}`);
  assert.deepEqual(fingerprintJob(job), fingerprint, `backy ${args.join(' ')} left the job intact`);
  return result.stdout;
}

test('a missing source file', () => {
  renameSync(source, `${source}.away`);
  try {
    refused(['-b', job, 'backup', 'daily'], new RegExp(`^backy: cannot read source file ${source}: no such file or directory$`));
  } finally {
    renameSync(`${source}.away`, source);
  }
});

test('an unreadable source: a directory, or a path through a regular file (both fail even for root)', () => {
  renameSync(source, `${source}.away`);
  mkdirSync(source);
  try {
    refused(['-b', job, 'backup', 'daily'], /^backy: source .*vm1\.img is neither a regular file nor a block device$/);
  } finally {
    rmdirSync(source);
    renameSync(`${source}.away`, source);
  }
  // A FIFO: opened without blocking (a writer may never come), then refused.
  renameSync(source, `${source}.away`);
  execFileSync('mkfifo', [source]);
  try {
    refused(['-b', job, 'backup', 'daily'], /^backy: source .*vm1\.img is neither a regular file nor a block device$/);
  } finally {
    rmSync(source);
    renameSync(`${source}.away`, source);
  }
  renameSync(sourceDir, `${sourceDir}.away`);
  writeFileSync(sourceDir, 'not a directory');
  try {
    refused(['-b', job, 'backup', 'daily'], /^backy: cannot read source file .*vm1\.img: not a directory$/);
  } finally {
    rmSync(sourceDir);
    renameSync(`${sourceDir}.away`, sourceDir);
  }
});

test('no config in the job directory, or no job directory at all', () => {
  const empty = join(dir, 'not-a-job');
  mkdirSync(empty, { recursive: true });
  const noConfig = new RegExp(`^backy: no job configuration at ${join(empty, 'config')} `);
  for (const args of [['backup', 'daily'], ['status'], ['find'], ['restore', join(dir, 'x.img')]]) {
    const stdout = refused(['-b', empty, ...args], noConfig);
    if (args[0] !== 'backup') assert.equal(stdout, '');
    // -b defaults to the working directory.
    refused(args, noConfig, { cwd: empty });
  }
  assert.equal(existsSync(join(dir, 'x.img')), false);
  const missing = join(dir, 'no-such-job');
  for (const args of [['backup', 'daily'], ['status'], ['find']]) {
    refused(['-b', missing, ...args], new RegExp(`^backy: job directory ${missing}: no such file or directory$`));
  }

  renameSync(join(job, 'config'), join(dir, 'config.away'));
  try {
    const result = backy(['-b', job, 'backup', 'daily']);
    assertOneLineError(result, /^backy: no job configuration at /, 'config removed');
  } finally {
    renameSync(join(dir, 'config.away'), join(job, 'config'));
  }
  assert.deepEqual(fingerprintJob(job), fingerprint);
});

test('unknown and ambiguous revision specs', () => {
  const target = join(dir, 'restored.img');
  assert.equal(refused(['-b', job, 'find', '-r', 'monthly'], /^backy: no revision matches "monthly"/), '');
  refused(['-b', job, 'restore', '-r', 'monthly', target], /^backy: no revision matches "monthly"/);
  refused(['-b', job, 'restore', '-r', '2', target], /^backy: revision 2 not found/);
  assert.equal(existsSync(target), false, 'no target file was created');

  // Two revisions sharing a prefix, made by hand beside the real ones.
  const twins = join(dir, 'twins');
  mkdirSync(twins);
  writeFileSync(join(twins, 'config'), `type: file\nfilename: ${source}\n`);
  for (const id of ['Kk2cDeFgHjKmNpQrStUvWx', 'Kk3cDeFgHjKmNpQrStUvWx']) {
    writeFileSync(join(twins, `${id}.rev`), `uuid: ${id}\ntimestamp: 2026-01-01T00:00:00Z\nparent: ""\ntags: [daily]\nstats: {bytes_written: 1, duration: 1}\n`);
    writeFileSync(join(twins, id), 'x');
  }
  const ambiguous = backy(['-b', twins, 'restore', '-r', 'Kk', target]);
  assertOneLineError(ambiguous, /^backy: revision spec "Kk" is ambiguous/, 'ambiguous prefix');
  assert.equal(existsSync(target), false);

  // status lists an unreadable .rev's ID too: a prefix it shares with a readable one is no unique prefix.
  writeFileSync(join(twins, 'Kk2cDeFgHjKmNpQrStUvWy.rev'), 'garbage: [\n');
  assert.match(backy(['-b', twins, 'status']).stdout, /Kk2cDeFgHjKmNpQrStUvWy .*\[unreadable \.rev\]/);
  assertOneLineError(backy(['-b', twins, 'restore', '-r', 'Kk2c', target]), /^backy: revision spec "Kk2c" is ambiguous: it matches Kk2cDeFgHjKmNpQrStUvWx, Kk2cDeFgHjKmNpQrStUvWy/, 'prefix of an unreadable .rev too');
  assertOneLineError(backy(['-b', twins, 'restore', '-r', 'Kk2cDeFgHjKmNpQrStUvWy', target]), /^backy: revision Kk2cDeFgHjKmNpQrStUvWy is unreadable: /, 'unreadable by ID');
  assert.equal(existsSync(target), false);
});

test('restore never writes into a job directory', () => {
  const [id] = revisionIds(job);
  symlinkSync(job, join(dir, 'link-to-job'));
  const into = /^backy: refusing to restore into the job directory /;
  refused(['-b', job, 'restore', join(job, 'copy.img')], into);
  refused(['-b', job, 'restore', join(job, id!)], into);
  refused(['-b', job, 'restore', 'copy.img'], into, { cwd: job });
  refused(['-b', job, 'restore', join(dir, 'link-to-job', 'copy.img')], into);
  // Another job's directory is no place for a restore either.
  const other = fingerprintJob(otherJob);
  refused(['-b', job, 'restore', join(otherJob, 'copy.img')], into);
  assert.deepEqual(fingerprintJob(otherJob), other);
  assert.equal(existsSync(join(job, 'copy.img')), false);
  refused(['-b', job, 'restore', join(dir, 'no-such-dir', 'copy.img')], /^backy: cannot restore to .*copy\.img: no such file or directory$/);
});

test('restore onto a block device smaller than the image is refused before writing', () => {
  const backing = join(dir, 'small-disk.img');
  const content = randomBytes(1 * MiB);
  writeFileSync(backing, content);
  const device = attachLoopDevice(backing);
  try {
    refused(['-b', job, 'restore', device.device], new RegExp(`^backy: cannot restore to ${device.device}: the device has ${MiB} bytes, revision \\S+ needs ${2 * MiB}$`));
    assert.ok(readFileSync(device.device).equals(content), 'the device is untouched');
  } finally {
    device.detach();
  }
});

test('restore - to a reader that goes away: one line, exit 1', async () => {
  const child = backyAsync(['-b', job, 'restore', '-']);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.once('data', () => child.stdout!.destroy());
  const code = await new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
  const lines = stderr.split('\n').filter((line) => line.length > 0 && !/ INFO /.test(line));
  assert.equal(code, 1, stderr);
  assert.deepEqual(lines, ['backy: restore to standard output stopped: the reading end of the pipe was closed']);
  assert.deepEqual(fingerprintJob(job), fingerprint);
});

test('bad tags', () => {
  for (const tags of ['', 'daily,,weekly', 'da ily', 'daily;rm', ',', 'daily,week/ly']) {
    const stdout = refused(['-b', job, 'backup', tags], /^backy: invalid tags? ".*"/);
    assert.equal(stdout, '', 'nothing was started');
  }
});

test('init refuses an existing config, malformed SOURCE and unknown types', () => {
  const config = readFileSync(join(job, 'config'), 'utf8');
  refused(['-b', job, 'init', 'file', join(dir, 'other.img')], /^backy: .*config already exists; refusing to overwrite/);
  assert.equal(readFileSync(join(job, 'config'), 'utf8'), config);

  const fresh = join(dir, 'fresh');
  refused(['-b', fresh, 'init', 'ceph-rbd', 'noslash'], /^backy: invalid SOURCE "noslash": expected POOL\/IMAGE/);
  refused(['-b', fresh, 'init', 'ceph-rbd', 'pool/'], /^backy: invalid SOURCE "pool\/": expected POOL\/IMAGE/);
  // rbd would read a name starting with "-" as an option: the backup then failed with 'image name was not specified'.
  refused(['-b', fresh, 'init', 'ceph-rbd', '--', '-prbd/img1'], /^backy: invalid SOURCE "-prbd\/img1": pool is not a valid pool name \(.*not starting with "-"\)$/);
  refused(['-b', fresh, 'init', 'ceph-rbd', 'rbd/-img'], /^backy: invalid SOURCE "rbd\/-img": image is not a valid image name/);
  refused(['-b', fresh, 'init', 'flyingcircus', 'pool/img'], /^backy: invalid SOURCE "pool\/img": expected POOL\/IMAGE,VM/);
  refused(['-b', fresh, 'init', 'file', ''], /^backy: init file: FILENAME must not be empty$/);
  refused(['-b', fresh, 'init', 'nfs', 'server:/export'], /^backy: unknown source type "nfs"; known types: file, ceph-rbd, flyingcircus$/);
  refused(['-b', fresh, 'init', 'flyingcircus,', 'pool/img,vm'], /^backy: unknown source type "flyingcircus,".*did you mean "flyingcircus"/);
  assert.equal(existsSync(fresh), false, 'a refused init creates nothing');
});
