/**
 * Output for scripts: `backy status --json`/`--yaml` for one job's
 * revisions, read with `jq`; `backy -c CONFIG jobs --json` for what telnet
 * `jobs` shows, from the status file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { serializeStatus } from '../../src/scheduler/status-file.js';
import { backy, BACKY_MAIN } from '../helpers/cli.js';
import { snapshotAt } from '../monitoring/status-fixtures.js';

function jq(filter: string, input: string): string {
  const result = spawnSync('jq', ['-r', filter], { input, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

test('status --json and --yaml: the revisions, oldest first, with their sizes, tags and trust', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-scripting-'));
  try {
    const source = join(dir, 'vm.img');
    writeFileSync(source, Buffer.alloc(256 * 1024, 7));
    const job = join(dir, 'job');
    assert.equal(backy(['-b', job, 'init', 'file', source]).status, 0);
    assert.equal(backy(['-b', job, 'backup', 'daily']).status, 0);
    writeFileSync(source, Buffer.alloc(256 * 1024, 9));
    assert.equal(backy(['-b', job, 'backup', 'daily,weekly']).status, 0);

    const json = backy(['-b', job, 'status', '--json']);
    assert.equal(json.status, 0, json.stderr);
    assert.equal(jq('length', json.stdout), '2\n');
    assert.equal(jq('[.[].tags | join(",")] | join(" ")', json.stdout), 'daily daily,weekly\n');
    assert.equal(jq('[.[] | "\\(.size) \\(.trust) \\(.complete) \\(.duration > 0)"] | join(";")', json.stdout), '262144 trusted true true;262144 trusted true true\n');
    const table = backy(['-b', job, 'status']).stdout;
    for (const id of jq('.[].uuid', json.stdout).trim().split('\n')) assert.ok(table.includes(id), `${id} is in the table too`);
    assert.equal(jq('.[1].parent == .[0].uuid', json.stdout), 'true\n');

    const yaml = backy(['-b', job, 'status', '--yaml']);
    assert.equal(yaml.status, 0);
    assert.deepEqual(YAML.parse(yaml.stdout), JSON.parse(json.stdout));

    const both = backy(['-b', job, 'status', '--json', '--yaml']);
    assert.equal(both.status, 1);
    assert.match(both.stderr, /^backy: option '--json' cannot be used with option '--yaml'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('jobs --json: what telnet jobs shows, from the status file; without --json the table', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-scripting-'));
  try {
    const now = new Date('2026-01-10T10:00:00Z');
    writeFileSync(join(dir, 'status'), serializeStatus(snapshotAt(now, [{ name: 'web1', lastBackupHoursAgo: 2 }, { name: 'db1', lastBackupHoursAgo: 50 }])));
    const conf = join(dir, 'backy.conf');
    writeFileSync(conf, `global:\n  base-dir: ${dir}\njobs:\n  web1: {}\n  db1: {}\n`);
    const run = (args: string[]) =>
      spawnSync('faketime', ['-f', '2026-01-10 10:00:00', process.execPath, BACKY_MAIN, '-c', conf, ...args], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    const json = run(['jobs', '--json']);
    assert.equal(json.status, 0, json.stderr);
    assert.equal(jq('.written', json.stdout), '2026-01-10T09:59:40.000Z\n');
    assert.equal(jq('[.jobs[] | "\\(.name) \\(.sla.ok) \\(.last_backup)"] | join(";")', json.stdout), 'db1 false 2026-01-08T08:00:00.000Z;web1 true 2026-01-10T08:00:00.000Z\n');
    const table = run(['jobs']);
    assert.equal(table.status, 0);
    assert.match(table.stdout, /\| db1 +\| TOO OLD \|/);
    assert.match(table.stdout, /\| web1 +\| OK +\|/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('output that cannot be written (a full disk under > FILE): exit 1 with one line, never a silent 0', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-scripting-'));
  const full = openSync('/dev/full', 'w');
  try {
    const source = join(dir, 'vm.img');
    writeFileSync(source, Buffer.alloc(64 * 1024, 7));
    const job = join(dir, 'job');
    assert.equal(backy(['-b', job, 'init', 'file', source]).status, 0);
    assert.equal(backy(['-b', job, 'backup', 'daily']).status, 0);
    for (const args of [['status'], ['status', '--json'], ['--help']]) {
      const result = spawnSync(process.execPath, [BACKY_MAIN, '-b', job, ...args], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8' });
      assert.equal(result.stderr, 'backy: cannot write to standard output: no space left on device\n', args.join(' '));
      assert.equal(result.status, 1, args.join(' '));
    }
  } finally {
    closeSync(full);
    rmSync(dir, { recursive: true, force: true });
  }
});
