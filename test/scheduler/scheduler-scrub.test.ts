/**
 * A real scheduler left running with a scrub-interval of seconds, its job
 * directory on btrfs: a byte flipped by hand in a stored image is found by
 * the scheduler on its own; the revision is distrusted, `check` says
 * CRITICAL naming the job, telnet shows it, and the next backup is a full
 * one (no reflink clone of the damaged image) whose restore equals the
 * source. A scheduler killed with SIGKILL leaves no scrub running.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TELNET_PROMPT } from '../../src/monitoring/telnet-shell.js';
import { backy, BACKY_MAIN } from '../helpers/cli.js';
import { readRevisionYaml, sameBytes, writeAt } from '../helpers/job-files.js';
import { mountLoopFilesystem } from '../helpers/loop-fs.js';
import { isStopped } from '../helpers/traced.js';
import { parsePluginOutput } from '../monitoring/status-fixtures.js';
import { converse, session } from '../monitoring/telnet-clients.js';
import { configText, freePort, revisions, running, SchedulerFixture } from './harness.js';

const MiB = 1024 * 1024;
const BLOCK = 64 * 1024;

test('a scheduler scrubbing every second finds a flipped byte: distrusted, CRITICAL, shown by telnet, healed by a full backup', async () => {
  const fs = mountLoopFilesystem('btrfs', '256M');
  const fixture = new SchedulerFixture(fs.path);
  try {
    const port = await freePort();
    const source = fixture.source('vm.img', 2 * MiB);
    fixture.writeConfig(
      configText({
        base: fixture.base,
        port,
        global: { 'scrub-interval': '1s' },
        schedules: { s: { daily: { interval: '1d', keep: 3 } } },
        jobs: { vm: { schedule: 's', filename: source } },
      }),
    );
    const job = fixture.job('vm');
    const scheduler = fixture.start();
    const [first] = await fixture.waitFor('the first backup', () => revisions(job).filter((r) => r.complete).length === 1 && revisions(job));

    // Bit rot in block 5 of the stored image; nobody runs verify.
    const image = join(job, first!.uuid);
    const offset = 5 * BLOCK + 1234;
    writeAt(image, offset, Buffer.from([readFileSync(image)[offset]! ^ 0x10]));
    await fixture.waitForStatus('the damage found by a scrub', (s) => s.jobs[0]?.distrustedRevisions === 1);
    assert.equal(readRevisionYaml(job, first!.uuid).trust, 'distrusted');
    assert.match(
      fixture.schedulerLog(),
      new RegExp(
        `ERROR job vm: scrub of revision ${first!.uuid} found damage \\(revision ${first!.uuid} is damaged: block at offset ${5 * BLOCK} ` +
          'does not match its recorded hash\\): it is distrusted now, and the next backup of vm is a full one',
      ),
    );

    const check = backy(['-c', fixture.conf, 'check']);
    assert.equal(check.status, 2, check.stdout + check.stderr);
    const { text, perfdata } = parsePluginOutput(check.stdout);
    assert.equal(text, 'CRITICAL: 1 of 1 job with distrusted revisions: vm (1)');
    assert.equal(perfdata.find((d) => d.label === 'distrusted')?.value, 1);

    const talk = await converse('telnet', ['127.0.0.1', String(port)], ['jobs\n', 'status\n', 'run vm\n', 'quit\n']);
    const [jobs, status, run] = session(talk.stdout).split(TELNET_PROMPT).slice(1);
    const row = jobs!.split('\n').find((line) => line.startsWith('| vm '))!;
    assert.equal(row.split('|')[3]!.trim(), 'waiting [1 distrusted]');
    // Nothing trusted is left to read.
    assert.ok(status!.includes('\nScrubbing:     every 1s, budget 0 Bytes per 1s, 0 Bytes read in this 1s; running: none\n'), status);
    assert.match(status!, /\| Job \| Last Verified \(UTC\) +\| All Verified Since \(UTC\) \| Distrusted \|\n/);
    assert.match(status!, /\n\| vm {2}\| (-|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) +\| - +\| +1 \|\n/, 'no trusted revision left to be verified');
    assert.equal(run, 'vm: backup queued with tags daily\n');

    // The next backup is a full one from the source, not a clone of the damaged image; its restore is the source.
    const healed = await fixture.waitFor('the healing backup', () => revisions(job).filter((r) => r.complete)[1]);
    const rev = readRevisionYaml(job, healed.uuid);
    assert.deepEqual([rev.parent, rev.stats.clone], ['', 'empty']);
    const target = join(fixture.dir, 'restored.img');
    const restore = backy(['-b', job, 'restore', '-r', healed.uuid, target]);
    assert.equal(restore.status, 0, restore.stderr);
    assert.ok(sameBytes(target, source));

    // Scrubbing goes on: the new revision proves itself; the damaged one stays distrusted (retention takes it in time).
    const proven = await fixture.waitForStatus('the new revision verified by a scrub', (s) => Boolean(s.jobs[0]?.lastVerified && s.jobs[0].lastVerified > healed.timestamp));
    assert.ok(proven.jobs[0]!.verifiedSince! > healed.timestamp);
    assert.equal(proven.jobs[0]!.distrustedRevisions, 1);
    assert.equal(backy(['-c', fixture.conf, 'check']).status, 2, 'still CRITICAL while the distrusted revision is kept');
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });

    // A scheduler killed while its scrub runs: the verification ends by itself (its lifeline pipe ends).
    // The wrapper stops itself before it becomes `backy verify`, so the scheduler can be killed meanwhile.
    const wrapper = join(fixture.dir, 'stopping-backy');
    writeFileSync(wrapper, `#!/bin/sh\nif [ "$5" = verify ]; then kill -STOP $$; fi\nexec '${process.execPath}' '${BACKY_MAIN}' "$@"\n`);
    chmodSync(wrapper, 0o755);
    const killed = fixture.start({ env: { BACKY_CMD: wrapper } });
    const scrubbing = await fixture.waitForStatus('a scrub under way', (s) => s.scheduler.scrub.running.length === 1);
    const { pid, revision } = scrubbing.scheduler.scrub.running[0]!;
    assert.equal(revision, healed.uuid);
    // The status file can name the scrub before its wrapper has stopped itself: a SIGCONT sent before
    // that would be lost, and the wrapper stopped for good.
    await fixture.waitFor(`scrub pid ${pid} to stop itself`, () => isStopped(pid!));
    killed.child.kill('SIGKILL');
    await killed.exited;
    process.kill(pid!, 'SIGCONT');
    await fixture.waitFor(`scrub pid ${pid} to end without its scheduler`, () => !running(pid!));
    const lines = readFileSync(join(job, 'backy.log'), 'utf8').trimEnd().split('\n');
    assert.match(lines.at(-1)!, /interrupted: the scheduler that started this backup is gone/);
  } finally {
    fixture.cleanup();
    fs.dispose();
  }
});
