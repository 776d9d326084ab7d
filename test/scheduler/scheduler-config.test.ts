/**
 * What an operator sees when `backy scheduler` cannot start: one precise
 * message, exit 1, and nothing changed on disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { configText, freePort, SchedulerFixture } from './harness.js';

/** The manual's example configuration, as printed (with its mistakes). */
const MANUAL_EXAMPLE = readFileSync(new URL('../../../test/scheduler/manual-example.conf', import.meta.url), 'utf8');

test("the manual's example configuration is refused with every mistake named", () => {
  const fixture = new SchedulerFixture();
  try {
    fixture.writeConfig(MANUAL_EXAMPLE);
    for (const args of [['-c', fixture.conf, 'scheduler'], ['scheduler', '-c', fixture.conf]]) {
      const result = backy(args);
      assert.equal(result.status, 1);
      assert.equal(result.stdout, '');
      assert.equal(
        result.stderr,
        [
          `backy: ${fixture.conf}: invalid configuration (3 problems):`,
          `${fixture.conf}: job "test03": schedule: "hourly" is not a defined schedule (defined schedules: default, frequent; "hourly" is a tag of schedule "frequent")`,
          `${fixture.conf}: job "test03": source.type: unknown source type "flyingcircus," (did you mean "flyingcircus"? remove the trailing ","); known types: file, ceph-rbd, flyingcircus`,
          `${fixture.conf}: job "test03": source.vm: has a trailing comma or blank; remove it`,
          '',
        ].join('\n'),
      );
    }
    assert.ok(!existsSync('/my/backydir'), 'nothing was created');
  } finally {
    fixture.cleanup();
  }
});

test('a missing file, a missing base directory, an unsafe job name: one line each, exit 1', async () => {
  const fixture = new SchedulerFixture();
  try {
    const missing = join(fixture.dir, 'nonexistent.conf');
    const noFile = backy(['-c', missing, 'scheduler']);
    assert.equal(noFile.status, 1);
    assert.equal(noFile.stderr, `backy: cannot read configuration file ${missing}: no such file or directory\n`);

    const port = await freePort();
    const source = fixture.source('vm.img', 4096);
    const noBase = join(fixture.dir, 'no-such-dir');
    fixture.writeConfig(configText({ base: noBase, port, schedules: { s: { daily: { interval: '1d', keep: 1 } } }, jobs: { vm: { schedule: 's', filename: source } } }));
    const result = backy(['-c', fixture.conf, 'scheduler']);
    assert.equal(result.status, 1);
    assert.equal(result.stderr, `backy: base-dir ${noBase} does not exist; create it (on a copy-on-write filesystem) before starting the scheduler\n`);
    assert.ok(!existsSync(noBase), 'the base directory is never created by the scheduler');

    fixture.writeConfig(configText({ base: fixture.base, port, schedules: { s: { daily: { interval: '1d', keep: 1 } } }, jobs: { '..': { schedule: 's', filename: source } } }));
    const unsafe = backy(['-c', fixture.conf, 'scheduler']);
    assert.equal(unsafe.status, 1);
    assert.match(unsafe.stderr, /^backy: .*: invalid configuration \(1 problem\):\n.*: job "\.\.": not a safe directory name; /);
    assert.deepEqual(readdirSync(fixture.base), []);
  } finally {
    fixture.cleanup();
  }
});

test('a configuration file that is a FIFO, a device or far too big is refused at once by scheduler and gc -c, never read', () => {
  const fixture = new SchedulerFixture();
  try {
    const fifo = join(fixture.dir, 'fifo.conf');
    execFileSync('mkfifo', [fifo]);
    const zero = join(fixture.dir, 'zero.conf');
    symlinkSync('/dev/zero', zero);
    const huge = join(fixture.dir, 'huge.conf');
    writeFileSync(huge, '');
    truncateSync(huge, 64 * 1024 * 1024);
    const cases: Array<[string, RegExp]> = [
      [fifo, /it is a FIFO, not a regular file/],
      [zero, /it is a character device, not a regular file/],
      [huge, /it has 67108864 bytes, more than the 8388608 any such file can have/],
    ];
    for (const [file, reason] of cases) {
      for (const args of [['-c', file, 'scheduler'], ['-c', file, 'gc']]) {
        const result = backy(args, { timeoutMs: 20_000 });
        assert.equal(result.signal, null, `backy ${args.join(' ')} answered (it hung before)`);
        assert.equal(result.status, 1, `backy ${args.join(' ')}`);
        assert.equal(result.stderr.split('\n').length, 2, `one line: ${result.stderr}`);
        assert.ok(result.stderr.startsWith(`backy: cannot read configuration file ${file}: `), result.stderr);
        assert.match(result.stderr, reason);
      }
    }
    assert.deepEqual(readdirSync(fixture.base), []);
  } finally {
    fixture.cleanup();
  }
});

test('a telnet port that cannot be bound stops the start-up with the reason', async () => {
  const fixture = new SchedulerFixture();
  const blocker = createServer();
  try {
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    fixture.writeConfig(configText({ base: fixture.base, port, schedules: {}, jobs: {} }));
    const result = backy(['-c', fixture.conf, 'scheduler']);
    assert.equal(result.status, 1);
    assert.match(result.stderr, new RegExp(`^backy: telnet shell cannot listen on any address: 127\\.0\\.0\\.1:${port}: address already in use\\n$`));
  } finally {
    blocker.close();
    fixture.cleanup();
  }
});
