/**
 * A revision being verified is in use, as one being restored is: retention
 * keeps it until the verification has read it. Retention runs in another
 * process while the verification is held (a synchronous child in its
 * progress report, so the verification cannot end meanwhile).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyJob } from '../../src/job/verify-job.js';
import { storeTypeNames } from '../../src/store/registry.js';
import { systemClock } from '../../src/util/clock.js';
import type { Logger } from '../../src/util/logger.js';
import { backy } from '../helpers/cli.js';
import { revisionIds } from '../helpers/job-files.js';
import { jobWithRevision, writeTestImage } from '../helpers/serve-process.js';

const module = (path: string) => JSON.stringify(new URL(path, import.meta.url).href);
// Retention as the scheduler runs it, a day later, keeping one revision tagged `test`: the older of two goes.
const RETENTION = `
const { expireRevisions } = await import(${module('../../src/scheduler/retention-apply.js')});
const { JobDirectory } = await import(${module('../../src/job/job-directory.js')});
const { fixedClock } = await import(${module('../../src/util/clock.js')});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const plan = await expireRevisions(new JobDirectory(process.env.JOB), [{ tag: 'test', intervalSeconds: 1, keep: 1 }], fixedClock(new Date(Date.now() + 86400000)), quiet);
console.log(JSON.stringify(plan.remove.map((change) => change.uuid)));
`;

function retention(job: string): string[] {
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', RETENTION], { env: { ...process.env, JOB: job }, encoding: 'utf8' })) as string[];
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function recording(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record = (line: string) => void lines.push(line);
  return { lines, debug: record, info: record, warn: record, error: record };
}

for (const store of storeTypeNames()) {
  test(`retention keeps a revision while it is verified, and removes it after (${store} store)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backy-verify-in-use-'));
    try {
      const source = join(dir, 'source.img');
      writeTestImage(source, 'older');
      const job = join(dir, 'job');
      const older = jobWithRevision(job, source, store);
      writeTestImage(source, 'newer');
      assert.equal(backy(['-b', job, 'backup', 'test']).status, 0);
      const newer = readlinkSync(join(job, 'last.rev')).replace(/\.rev$/, '');

      let during: string[] | undefined;
      const outcomes = await verifyJob(job, {
        spec: older,
        logger: quiet,
        clock: systemClock,
        signal: new AbortController().signal,
        onProgress: () => void (during ??= retention(job)),
      });
      assert.deepEqual(during, [], 'retention removed nothing while the verification read the revision');
      assert.deepEqual(outcomes.map((outcome) => [outcome.kind, outcome.revision]), [['verified', older]]);
      assert.deepEqual(revisionIds(job).sort(), [older, newer].sort());
      assert.deepEqual(retention(job), [older], 'once verified, it goes');
      assert.deepEqual(revisionIds(job), [newer]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('verify --all passes over a revision that retention removed while an earlier one was verified: gone is no failure', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-verify-in-use-'));
  try {
    const source = join(dir, 'source.img');
    writeTestImage(source, 'first');
    const job = join(dir, 'job');
    const first = jobWithRevision(job, source, 'cow');
    const ids = [first];
    for (const seed of ['second', 'third']) {
      writeTestImage(source, seed);
      assert.equal(backy(['-b', job, 'backup', 'test']).status, 0);
      ids.push(readlinkSync(join(job, 'last.rev')).replace(/\.rev$/, ''));
    }
    const [, second, third] = ids as [string, string, string];
    const logger = recording();
    let during: string[] | undefined;
    const outcomes = await verifyJob(job, {
      all: true,
      logger,
      clock: systemClock,
      signal: new AbortController().signal,
      onProgress: () => void (during ??= retention(job)),
    });
    assert.deepEqual(during, [second], 'the first is being verified: only the second goes');
    assert.deepEqual(outcomes.map((outcome) => [outcome.kind, outcome.revision]), [['verified', first], ['verified', third]]);
    assert.ok(logger.lines.includes(`revision ${second} was removed meanwhile (by retention); not verified`), logger.lines.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
