/**
 * The command line itself: --version, help (global and per action), usage
 * mistakes as one line with exit 1, `-b` defaulting to the working
 * directory, and `npx backy` in the checkout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { backy, backyAsync } from '../helpers/cli.js';
import { assertOneLineError, revisionIds } from '../helpers/job-files.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const ACTIONS = ['init', 'backup', 'status', 'find', 'restore', 'scheduler', 'check'];

test('--version prints the version', () => {
  const result = backy(['--version']);
  assert.equal(result.status, 0);
  assert.equal(result.stdout, `${VERSION}\n`);
  assert.equal(result.stderr, '');
});

test('-h and --help print the usage summary with every action and global option', () => {
  for (const flag of ['-h', '--help']) {
    const result = backy([flag]);
    assert.equal(result.status, 0);
    assert.equal(result.stderr, '');
    assert.match(result.stdout, /^Usage: backy \[options\] \[command\]\n/);
    for (const option of ['-l, --logfile <LOGFILE>', '-v, --verbose', '-b, --backupdir <DIRECTORY>', '-h, --help', '--version']) {
      assert.ok(result.stdout.includes(option), `${flag} lists ${option}`);
    }
    for (const action of ACTIONS) assert.match(result.stdout, new RegExp(`\\n  ${action}\\b`), `${flag} lists ${action}`);
  }
});

test('backy ACTION -h prints that action\'s usage and does nothing else', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-help-'));
  try {
    const usage: Record<string, RegExp> = {
      init: /^Usage: backy init \[options\] <TYPE> <SOURCE>\n/,
      backup: /^Usage: backy backup \[options\] <TAGS>\n/,
      status: /^Usage: backy status \[options\]\n/,
      find: /^Usage: backy find \[options\]\n[\s\S]*-r, --revision <REVISION>/,
      restore: /^Usage: backy restore \[options\] \[TARGET\]\n[\s\S]*-r, --revision <REVISION>[\s\S]*--rbd <POOL\/IMAGE>[\s\S]*--instant/,
      serve: /^Usage: backy serve \[options\]\n[\s\S]*--listen <ADDRESS:PORT>[\s\S]*--socket <PATH>[\s\S]*--writable/,
      mount: /^Usage: backy mount \[options\] <MOUNTPOINT>\n[\s\S]*--partition <N>/,
      umount: /^Usage: backy umount \[options\] <MOUNTPOINT>\n/,
    };
    for (const [action, pattern] of Object.entries(usage)) {
      for (const flag of ['-h', '--help']) {
        const result = backy(['-b', join(dir, 'job'), action, flag]);
        assert.equal(result.status, 0, `${action} ${flag}`);
        assert.match(result.stdout, pattern, `${action} ${flag}`);
        assert.equal(result.stderr, '');
      }
    }
    assert.equal(existsSync(join(dir, 'job')), false, 'help ran no action');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('usage mistakes: one line on stderr, exit 1, nothing on stdout', () => {
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /^backy: unknown command 'frobnicate'/],
    [['stauts'], /^backy: unknown command 'stauts' \(Did you mean status\?\)$/],
    [['--frobnicate', 'status'], /^backy: unknown option '--frobnicate'/],
    [['status', '--frobnicate'], /^backy: unknown option '--frobnicate'/],
    [['find', '-x'], /^backy: unknown option '-x'/],
    [['backup'], /^backy: missing required argument 'TAGS'/],
    [['backup', 'daily', 'weekly'], /^backy: too many arguments for 'backup'/],
    [['init', 'file'], /^backy: missing required argument 'SOURCE'/],
    [['find', '-r'], /^backy: option '-r, --revision <REVISION>' argument missing/],
  ];
  for (const [args, pattern] of cases) {
    const result = backy(args);
    assertOneLineError(result, pattern, `backy ${args.join(' ')}`);
    assert.equal(result.stdout, '', `backy ${args.join(' ')}: stdout`);
  }
});

test('without -b the job directory is the working directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-cwd-'));
  try {
    const job = join(dir, 'job');
    mkdirSync(job);
    const content = randomBytes(1024 * 1024);
    writeFileSync(join(dir, 'vm.img'), content);
    const inJob = { cwd: job };
    assert.equal(backy(['init', '--store', 'cow', 'file', '../vm.img'], inJob).status, 0);
    // A relative source is stored absolute: the scheduler runs jobs from elsewhere.
    assert.deepEqual(YAML.parse(readFileSync(join(job, 'config'), 'utf8')), { type: 'file', filename: join(dir, 'vm.img') });
    const backup = backy(['backup', 'daily'], inJob);
    assert.equal(backup.status, 0, backup.stderr);
    const [id] = revisionIds(job);
    assert.equal(backy(['find'], inJob).stdout, `${join(job, id!)}\n`);
    assert.match(backy(['status'], inJob).stdout, new RegExp(`\\| ${id} \\| +1\\.00 MiB \\|`));
    assert.equal(backy(['restore', '../restored.img'], inJob).status, 0);
    assert.ok(readFileSync(join(dir, 'restored.img')).equals(content));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('of several inits of one directory at once, one writes the config and the others fail', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-init-race-'));
  try {
    const job = join(dir, 'job');
    // Without --store, each init first probes the filesystem for reflinks: time enough for the others to get there.
    const runs = Array.from({ length: 8 }, (_, i) => {
      const child = backyAsync(['-b', job, 'init', 'file', join(dir, `vm${i}.img`)]);
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      return new Promise<{ i: number; code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ i, code, stderr })));
    });
    const results = await Promise.all(runs);
    const won = results.filter((r) => r.code === 0);
    assert.equal(won.length, 1, `exit codes ${results.map((r) => r.code).join(' ')}`);
    for (const lost of results.filter((r) => r.code !== 0)) {
      assert.equal(lost.code, 1);
      assert.equal(lost.stderr, `backy: ${join(job, 'config')} already exists; refusing to overwrite the job's configuration\n`);
    }
    // The config is the one whose init said it wrote it.
    assert.equal((YAML.parse(readFileSync(join(job, 'config'), 'utf8')) as { filename: string }).filename, join(dir, `vm${won[0]!.i}.img`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npx backy works in the checkout', () => {
  // What npm ci (its prepare script) and npm run build leave behind.
  const mode = statSync(join(REPO_ROOT, 'dist/src/cli/main.js')).mode;
  assert.ok(mode & 0o100, 'dist/src/cli/main.js is executable (built with npm run build, not only tsc?)');
  const result = spawnSync('npx', ['--no-install', 'backy', '--version'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, `${VERSION}\n`);
});
