import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobStatus } from '../../../test/helpers/job-status.js';
import type { SchedulerStatus, SchedulerView } from '../../scheduler/status-model.js';
import { HELP, runCommand } from './commands.js';
import { compileJobFilter } from './job-filter.js';

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

function jobNames(output: string): string[] {
  return output
    .split('\n')
    .slice(3, -1)
    .map((row) => row.split('|')[1].trim());
}

test('jobs lists every job sorted by name; a regex filters by name like grep -E', () => {
  const view = fixture();
  assert.deepEqual(jobNames(runCommand('jobs', view, NOW).output), ['db1', 'mail', 'web1', 'web2']);
  assert.deepEqual(jobNames(runCommand('  jobs   ^web  ', view, NOW).output), ['web1', 'web2']);
  assert.deepEqual(jobNames(runCommand('jobs (db|mail)', view, NOW).output), ['db1', 'mail']);
  assert.deepEqual(jobNames(runCommand('jobs [[:digit:]]$', view, NOW).output), ['db1', 'web1', 'web2']);
  assert.deepEqual(jobNames(runCommand('jobs ^nothing', view, NOW).output), []);
});

test('an invalid regex gets a message, not a table', () => {
  const view = fixture();
  assert.deepEqual(runCommand('jobs web(', view, NOW), { output: 'invalid regular expression "web(": unterminated group', close: false });
  assert.equal(runCommand('jobs [[:nope:]]', view, NOW).output, 'invalid regular expression "[[:nope:]]": unknown character class [:nope:]');
});

test('run queues the job and names its next tags; unknown jobs and missing names are explained', () => {
  const view = fixture();
  assert.deepEqual(runCommand('run web2', view, NOW), { output: 'web2: backup queued with tags daily,weekly', close: false });
  assert.deepEqual(view.queued, ['web2']);
  assert.equal(runCommand('run nope', view, NOW).output, 'cannot run nope: no job named nope');
  assert.equal(runCommand('run', view, NOW).output, 'usage: run JOB');
  assert.equal(runCommand('run a b', view, NOW).output, 'usage: run JOB');
});

test('status, help, quit, empty and unknown commands', () => {
  const view = fixture();
  assert.match(runCommand('status', view, NOW).output, /^Scheduler: +backy 2\.5\.0, pid 1\n/);
  assert.equal(runCommand('status now', view, NOW).output, 'usage: status');
  assert.deepEqual(runCommand('help', view, NOW), { output: HELP, close: false });
  assert.deepEqual(runCommand('quit', view, NOW), { output: '', close: true });
  assert.deepEqual(runCommand('', view, NOW), { output: '', close: false });
  assert.deepEqual(runCommand('frobnicate now', view, NOW), {
    output: 'unknown command "frobnicate"; type "help" for the list of commands',
    close: false,
  });
});

test('POSIX bracket classes translate; JavaScript regex errors are reworded', () => {
  assert.equal(compileJobFilter('^[[:alpha:]]+[[:digit:]]$').test('web1'), true);
  assert.equal(compileJobFilter('^[[:alpha:]]+[[:digit:]]$').test('web-1'), false);
  assert.throws(() => compileJobFilter('*x'), { message: 'invalid regular expression "*x": nothing to repeat' });
});
