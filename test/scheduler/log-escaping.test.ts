/**
 * What reaches the scheduler's log from outside it — a completion hook's
 * output, tags from `.rev` files — cannot forge or hide a log line:
 * control characters are escaped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { configText, freePort, SchedulerFixture } from './harness.js';

/** Every line of the log starts with its time stamp: none was forged. */
function assertOwnLines(log: string): void {
  for (const line of log.trimEnd().split('\n')) assert.match(line, /^\d{4}-\d{2}-\d{2}\S* /, `a forged line: ${JSON.stringify(line)}`);
}

test("a completion hook's carriage returns and line-clearing escapes are logged escaped", async () => {
  const fixture = new SchedulerFixture();
  try {
    const hook = join(fixture.dir, 'hook');
    writeFileSync(hook, "#!/bin/sh\nprintf 'hidden\\rshown\\033[2K tail\\n'\n");
    chmodSync(hook, 0o755);
    const jobs = { a: { schedule: 's', filename: fixture.source('a.img', 4096) } };
    fixture.writeConfig(configText({ base: fixture.base, port: await freePort(), schedules: { s: { daily: { interval: '1d', keep: 3 } } }, jobs, global: { 'backup-completed-callback': hook } }));
    const scheduler = fixture.start();
    await fixture.waitFor('the hook', () => fixture.schedulerLog().includes('backup-completed-callback'));
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
    const log = fixture.schedulerLog();
    assert.ok(log.includes(`backup-completed-callback ${hook} succeeded: hidden\\rshown\\u001b[2K tail\n`), log);
    assert.ok(!log.includes('\r') && !log.includes('\u001b'), 'no raw carriage return or escape');
  } finally {
    fixture.cleanup();
  }
});

test('a tag with a line break in a .rev file is logged escaped by retention', async () => {
  const fixture = new SchedulerFixture();
  try {
    const jobs = { a: { schedule: 's', filename: fixture.source('a.img', 4096) } };
    fixture.writeConfig(configText({ base: fixture.base, port: await freePort(), schedules: { s: { daily: { interval: '1d', keep: 1 } } }, jobs }));
    const first = fixture.start();
    await fixture.waitForStatus('a backup', (s) => s.jobs[0]?.lastBackup !== null);
    assert.deepEqual(await first.stop(), { code: 0, signal: null });
    const forged = 'x\n2026-01-01T00:00:00.000Z INFO forged line';
    for (const name of readdirSync(fixture.job('a')).filter((n) => n.endsWith('.rev') && n !== 'last.rev')) {
      const path = join(fixture.job('a'), name);
      const data = YAML.parse(readFileSync(path, 'utf8')) as { timestamp: string; tags: string[] };
      // Two days old: the next scheduler catches up, and retention takes "daily" from this one.
      data.timestamp = new Date(Date.parse(data.timestamp) - 2 * 86400_000).toISOString();
      data.tags = ['daily', forged];
      writeFileSync(path, YAML.stringify(data));
    }
    const second = fixture.start();
    await fixture.waitFor('retention', () => fixture.schedulerLog().includes('expired from daily'));
    assert.deepEqual(await second.stop(), { code: 0, signal: null });
    const log = fixture.schedulerLog();
    assert.ok(log.includes('expired from daily, keeps x\\n2026-01-01T00:00:00.000Z INFO forged line\n'), log);
    assertOwnLines(log);
  } finally {
    fixture.cleanup();
  }
});
