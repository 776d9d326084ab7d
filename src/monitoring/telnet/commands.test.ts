import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { jobStatus } from '../../../test/helpers/job-status.js';
import type { SchedulerStatus, SchedulerView } from '../../scheduler/status-model.js';
import { HELP, runCommand } from './commands.js';
import { compileJobFilter } from './job-filter.js';
import { JobMatcher } from './job-matcher.js';

const matcher = new JobMatcher();
after(() => matcher.close());

const NOW = new Date('2026-01-10T10:00:00Z');

function fixture(): SchedulerView & { queued: string[] } {
  const queued: string[] = [];
  const status: SchedulerStatus = {
    version: '2.5.0',
    pid: 1,
    started: NOW,
    configPath: '/etc/backy.conf',
    configLoaded: NOW,
    workerLimit: 1,
    running: [],
    queued,
    skipped: [],
    finished: { succeeded: 0, failed: 0, interrupted: 0 },
    scrub: { intervalSeconds: 30 * 86400, periodSeconds: 86400, budgetBytes: 0, readBytes: 0, running: [] },
  };
  const jobs = ['web1', 'db1', 'web2', 'mail'].map((name) => jobStatus({ name, nextTags: ['daily', 'weekly'] }));
  return {
    queued,
    status: () => status,
    jobs: () => jobs,
    runJob: (name) => {
      if (!jobs.some((j) => j.name === name)) return { ok: false, reason: `no job named ${name}` };
      queued.push(name);
      return { ok: true };
    },
  };
}

/** The job column of the table; the line after the table counts the rows. */
function jobNames(output: string): string[] {
  const lines = output.split('\n');
  const names = lines.slice(3, -2).map((row) => row.split('|')[1].trim());
  assert.equal(lines.at(-1), `${names.length} jobs shown`);
  return names;
}

test('jobs lists every job sorted by name; a regex filters by name like grep -E', async () => {
  const view = fixture();
  assert.deepEqual(jobNames((await runCommand('jobs', { view, now: NOW, matcher })).output), ['db1', 'mail', 'web1', 'web2']);
  assert.deepEqual(jobNames((await runCommand('  jobs   ^web  ', { view, now: NOW, matcher })).output), ['web1', 'web2']);
  assert.deepEqual(jobNames((await runCommand('jobs (db|mail)', { view, now: NOW, matcher })).output), ['db1', 'mail']);
  assert.deepEqual(jobNames((await runCommand('jobs [[:digit:]]$', { view, now: NOW, matcher })).output), ['db1', 'web1', 'web2']);
  assert.deepEqual(jobNames((await runCommand('jobs ^nothing', { view, now: NOW, matcher })).output), []);
});

test('a regex that backtracks without end is stopped after its budget with a message; the next one is answered', async () => {
  const view = fixture();
  const slow = new JobMatcher(200);
  try {
    const jobs = view.jobs().map((j) => j.name);
    const names = ['a'.repeat(60) + '!', ...jobs];
    assert.deepEqual(await slow.match('(a+)+$', names), {
      ok: false,
      reason: 'the regular expression took more than 0.2 s to match the job names and was stopped; simplify it (nested repetition such as (a+)+ backtracks)',
    });
    assert.deepEqual(await slow.match('^web', jobs), { ok: true, matches: jobs.map((name) => name.startsWith('web')) });
  } finally {
    await slow.close();
  }
});

test("a match's budget begins when its thread has loaded: a thread slower to start than the budget still answers", async () => {
  const slowStart = new JobMatcher(200, new URL('../../../test/helpers/slow-start-matcher-worker.js', import.meta.url));
  try {
    assert.deepEqual(await slowStart.match('^web', ['web1', 'db1']), { ok: true, matches: [true, false] });
  } finally {
    await slowStart.close();
  }
});

test('an invalid regex gets a message, not a table', async () => {
  const view = fixture();
  assert.deepEqual((await runCommand('jobs web(', { view, now: NOW, matcher })), { output: 'invalid regular expression "web(": unterminated group', close: false });
  assert.equal((await runCommand('jobs [[:nope:]]', { view, now: NOW, matcher })).output, 'invalid regular expression "[[:nope:]]": unknown character class [:nope:]');
});

test('run queues the job and names its next tags; unknown jobs and missing names are explained', async () => {
  const view = fixture();
  assert.deepEqual((await runCommand('run web2', { view, now: NOW, matcher })), { output: 'web2: backup queued with tags daily,weekly', close: false });
  assert.deepEqual(view.queued, ['web2']);
  assert.equal((await runCommand('run nope', { view, now: NOW, matcher })).output, 'cannot run nope: no job named nope');
  assert.equal((await runCommand('run', { view, now: NOW, matcher })).output, 'usage: run JOB');
  assert.equal((await runCommand('run a b', { view, now: NOW, matcher })).output, 'usage: run JOB');
});

test('status, help, quit, empty and unknown commands', async () => {
  const view = fixture();
  assert.match((await runCommand('status', { view, now: NOW, matcher })).output, /^Scheduler: +backy 2\.5\.0, pid 1\n/);
  assert.equal((await runCommand('status now', { view, now: NOW, matcher })).output, 'usage: status');
  assert.deepEqual((await runCommand('help', { view, now: NOW, matcher })), { output: HELP, close: false });
  assert.deepEqual((await runCommand('quit', { view, now: NOW, matcher })), { output: '', close: true });
  assert.deepEqual((await runCommand('', { view, now: NOW, matcher })), { output: '', close: false });
  assert.deepEqual((await runCommand('frobnicate now', { view, now: NOW, matcher })), {
    output: 'unknown command "frobnicate"; type "help" for the list of commands',
    close: false,
  });
});

test('POSIX bracket classes translate; JavaScript regex errors are reworded', async () => {
  assert.equal(compileJobFilter('^[[:alpha:]]+[[:digit:]]$').test('web1'), true);
  assert.equal(compileJobFilter('^[[:alpha:]]+[[:digit:]]$').test('web-1'), false);
  assert.throws(() => compileJobFilter('*x'), { message: 'invalid regular expression "*x": nothing to repeat' });
});
