/**
 * The scheduler's HTTP API and metrics, driven with `curl` against a real
 * scheduler: every route, bad and missing tokens, unknown jobs, a reload,
 * `promtool check metrics` and the values against the jobs' real state,
 * and a token file others can read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRevisionYaml } from '../helpers/job-files.js';
import { revisions, SchedulerFixture } from '../scheduler/harness.js';
import { curl, httpConfig, json, TOKENS } from './http-helpers.js';

const DISTRUSTED = 'Nz9XUiRHgsMaYxGeq8YbuH';

test('HTTP API: every route with tokens, refusals with stable codes, reload, metrics checked by promtool', async () => {
  const fixture = new SchedulerFixture();
  try {
    const schedules = { s: { daily: { interval: '1d', keep: 5 } } };
    const jobs = {
      alpha: { schedule: 's', filename: fixture.source('alpha.img', 64 * 1024) },
      beta: { schedule: 's', filename: fixture.source('beta.img', 128 * 1024) },
      // Its image is gone: it fails (and retries only after 2 minutes), its last backup long ago.
      gamma: { schedule: 's', filename: join(fixture.dir, 'missing.img') },
    };
    // beta has an old revision whose data failed a check.
    mkdirSync(fixture.job('beta'));
    writeFileSync(join(fixture.job('beta'), DISTRUSTED), Buffer.alloc(128 * 1024));
    writeFileSync(
      join(fixture.job('beta'), `${DISTRUSTED}.rev`),
      `uuid: ${DISTRUSTED}\ntimestamp: 2026-01-01T00:00:00Z\nparent: ""\ntags: [daily]\ntrust: distrusted\nstats: {bytes_written: 131072, duration: 2.5}\n`,
    );
    const OLD = 'Kp3bLkV9qW2xZrT5mN8cHd';
    const gammaVerified = new Date(Date.now() - 60_000);
    mkdirSync(fixture.job('gamma'));
    writeFileSync(join(fixture.job('gamma'), OLD), Buffer.alloc(4096));
    writeFileSync(
      join(fixture.job('gamma'), `${OLD}.rev`),
      // Verified a minute ago: no scrub is due for it while the test runs.
      `uuid: ${OLD}\ntimestamp: 2026-01-01T00:00:00Z\nparent: ""\ntags: [daily]\nstats: {bytes_written: 4096, duration: 1.5}\nverified: ${gammaVerified.toISOString()}\n`,
    );
    const { base, tokens } = await httpConfig(fixture, jobs, schedules);
    const scheduler = fixture.start();
    const ready = await fixture.waitForStatus(
      'alpha and beta backed up, gamma failed',
      (s) =>
        s.jobs.length === 3 &&
        s.jobs.filter((j) => j.name !== 'gamma').every((j) => j.lastBackup && j.lastBackup > new Date('2026-06-01')) &&
        s.jobs.some((j) => j.name === 'gamma' && j.failures >= 1) &&
        s.scheduler.running.length === 0,
    );
    // 1, unless a job's catch-up waited for its slot (see catchUpHoldMs) and gamma retried meanwhile.
    const gammaFailures = ready.jobs.find((j) => j.name === 'gamma')!.failures;
    const { ops } = TOKENS;

    const status = curl(`${base}/v1/status`, { token: ops });
    assert.equal(status.status, 200);
    assert.match(status.headers, /content-type: application\/json/i);
    const scheduler1 = json(status) as {
      pid: number;
      worker_limit: number;
      running: unknown[];
      finished: { succeeded: number; failed: number };
      workers: { busy: number; idle: number };
      jobs: { total: number; overdue: number; failed: number };
      scrub: { interval_seconds: number; period_seconds: number; running: unknown[] };
    };
    assert.equal(scheduler1.pid, scheduler.child.pid);
    assert.deepEqual([scheduler1.scrub.interval_seconds, scheduler1.scrub.period_seconds, scheduler1.scrub.running], [30 * 86400, 86400, []]);
    assert.equal(scheduler1.worker_limit, 1);
    assert.deepEqual([scheduler1.finished.succeeded, scheduler1.finished.failed], [2, gammaFailures]);
    // What telnet status counts: gamma is both overdue and failed.
    assert.deepEqual([scheduler1.workers, scheduler1.jobs], [{ busy: 0, idle: 1 }, { total: 3, overdue: 1, failed: 1 }]);

    const list = json(curl(`${base}/v1/jobs`, { token: ops })) as {
      jobs: Array<{ name: string; state: string; failures: number; sla: { ok: boolean }; next_tags: string[] }>;
    };
    assert.deepEqual(list.jobs.map((j) => [j.name, j.state, j.failures, j.sla.ok, j.next_tags]), [
      ['alpha', 'waiting', 0, true, ['daily']],
      ['beta', 'waiting', 0, true, ['daily']],
      ['gamma', 'failed', gammaFailures, false, ['daily']],
    ]);
    const gamma = json(curl(`${base}/v1/jobs/gamma`, { token: ops })) as { revisions: unknown[]; recent_failures: Array<{ at: string; reason: string }> };
    assert.deepEqual(gamma.revisions.map((r) => (r as { uuid: string }).uuid), [OLD]);
    assert.equal(gamma.recent_failures.length, gammaFailures);
    assert.match(gamma.recent_failures[0]!.reason, /missing\.img/);

    const beta = json(curl(`${base}/v1/jobs/beta`, { token: ops })) as {
      name: string;
      revisions: Array<{ uuid: string; trust: string; size: number; duration: number; bytes_written: number; tags: string[] }>;
      recent_failures: unknown[];
      distrusted_revisions: number;
      last_verified: string | null;
      verified_since: string | null;
    };
    assert.equal(beta.name, 'beta');
    assert.equal(beta.revisions.length, 2);
    assert.deepEqual(beta.revisions[0], {
      uuid: DISTRUSTED, timestamp: '2026-01-01T00:00:00.000Z', parent: null, tags: ['daily'], trust: 'distrusted',
      complete: true, size: 131072, duration: 2.5, bytes_written: 131072, unreadable: null,
    });
    assert.equal(beta.revisions[1]!.trust, 'trusted');
    assert.equal(beta.revisions[1]!.size, 128 * 1024);
    assert.deepEqual(beta.recent_failures, []);
    assert.equal(beta.distrusted_revisions, 1);
    // Never verified since its backup, which proved it against the source as it completed; the distrusted one does not count.
    const fresh = readRevisionYaml(fixture.job('beta'), beta.revisions[1]!.uuid);
    const completed = new Date(new Date(fresh.timestamp as string).getTime() + (fresh.stats.duration as number) * 1000);
    assert.deepEqual([beta.last_verified, beta.verified_since], [null, completed.toISOString()]);

    // Refusals: stable codes, and the log names the address, never the token.
    const refused = (response: ReturnType<typeof curl>, status: number, code: string) => {
      assert.equal(response.status, status, response.body);
      assert.equal((json(response) as { code: string }).code, code);
    };
    refused(curl(`${base}/v1/status`), 401, 'UNAUTHORIZED');
    refused(curl(`${base}/v1/jobs`, { token: 'not-a-token-of-anybody' }), 401, 'UNAUTHORIZED');
    refused(curl(`${base}/v1/jobs/alpha/run`, { method: 'POST', args: ['-H', 'Authorization: Basic b3BzOm9wcw=='] }), 401, 'UNAUTHORIZED');
    // The router decodes the path before it matches a route: an encoded one needs the token as much.
    for (const path of ['/%761/status', '/v%31/jobs', '/%76%31/jobs/alpha']) refused(curl(`${base}${path}`), 401, 'UNAUTHORIZED');
    for (const path of ['/%761/jobs/alpha/run', '/v%31/reload']) refused(curl(`${base}${path}`, { method: 'POST' }), 401, 'UNAUTHORIZED');
    refused(curl(`${base}/v1/jobs/nosuch`, { token: ops }), 404, 'JOB_NOT_FOUND');
    refused(curl(`${base}/v1/jobs/nosuch/run`, { token: ops, method: 'POST' }), 404, 'JOB_NOT_FOUND');
    refused(curl(`${base}/v1/nothing`, { token: ops }), 404, 'NOT_FOUND');
    const log = fixture.schedulerLog();
    assert.match(log, /WARN http: refused GET \/v1\/status from 127\.0\.0\.1: no token/);
    assert.match(log, /WARN http: refused GET \/v1\/jobs from 127\.0\.0\.1: a token not in the token file/);
    assert.doesNotMatch(log, /not-a-token-of-anybody|b3BzOm9wcw|ops-0123456789abcdef/);
    // Refusals are anyone's to repeat: the log takes 20 a minute, however many come.
    for (let i = 0; i < 30; i++) assert.equal(curl(`${base}/v1/status`).status, 401);
    assert.equal(fixture.schedulerLog().match(/ WARN http: refused /g)?.length, 20);

    // A backup on request, logged with the client's name.
    const run = curl(`${base}/v1/jobs/alpha/run`, { token: TOKENS.ci, method: 'POST' });
    assert.equal(run.status, 202);
    assert.deepEqual(json(run), { job: 'alpha', queued: true, tags: ['daily'] });
    await fixture.waitFor('the requested backup', () => revisions(fixture.job('alpha')).filter((r) => r.complete).length === 2);
    assert.match(fixture.schedulerLog(), /INFO http: ci asked for a backup of job alpha: queued/);

    // Metrics: valid for promtool, and the values of the jobs' real state.
    await fixture.waitForStatus('the scheduler idle', (s) => s.scheduler.running.length === 0 && s.scheduler.finished.succeeded === 3);
    const metrics = curl(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers, /content-type: text\/plain; version=0\.0\.4/i);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: metrics.body, encoding: 'utf8' });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
    const value = (series: string) => {
      const line = metrics.body.split('\n').find((l) => l.startsWith(`${series} `));
      assert.ok(line, `${series} in ${metrics.body}`);
      return Number(line.split(' ')[1]);
    };
    const alphaRevisions = revisions(fixture.job('alpha'));
    assert.equal(value('backy_job_revisions{job="alpha"}'), alphaRevisions.length);
    assert.equal(value('backy_job_revisions{job="beta"}'), 2);
    assert.equal(value('backy_job_distrusted_revisions{job="beta"}'), 1);
    assert.equal(value('backy_job_distrusted_revisions{job="alpha"}'), 0);
    assert.equal(value('backy_job_within_sla{job="alpha"}'), 1);
    assert.equal(value('backy_job_last_success_timestamp_seconds{job="alpha"}'), alphaRevisions.at(-1)!.timestamp.getTime() / 1000);
    assert.equal(value('backy_job_last_backup_written_bytes{job="alpha"}'), 64 * 1024);
    assert.equal(value('backy_job_last_backup_duration_seconds{job="alpha"}'), readRevisionYaml(fixture.job('alpha'), alphaRevisions.at(-1)!.uuid).stats.duration);
    assert.equal(value('backy_job_revisions_estimated_bytes{job="beta"}'), 2 * 128 * 1024);
    assert.equal(value('backy_job_consecutive_failures{job="alpha"}'), 0);
    assert.equal(value('backy_job_consecutive_failures{job="gamma"}'), gammaFailures);
    assert.equal(value('backy_job_within_sla{job="gamma"}'), 0);
    assert.equal(value('backy_job_revisions{job="gamma"}'), 1);
    assert.equal(value('backy_job_last_success_timestamp_seconds{job="gamma"}'), Date.parse('2026-01-01T00:00:00Z') / 1000);
    assert.equal(value('backy_job_last_backup_duration_seconds{job="gamma"}'), 1.5);
    assert.equal(value('backy_job_last_verified_timestamp_seconds{job="gamma"}'), gammaVerified.getTime() / 1000);
    assert.equal(value('backy_job_verified_since_timestamp_seconds{job="beta"}'), completed.getTime() / 1000);
    assert.doesNotMatch(metrics.body, /^backy_job_last_verified_timestamp_seconds\{job="(alpha|beta)"\}/m, 'no revision was verified after its backup');
    assert.equal(value('backy_scrubs_running'), 0);
    assert.equal(value('backy_backups_finished_total{outcome="succeeded"}'), 3);
    assert.equal(value('backy_backups_finished_total{outcome="failed"}'), gammaFailures);
    assert.equal(value('backy_workers_busy'), 0);
    assert.equal(value('backy_workers_idle'), 1);
    assert.equal(value('backy_backups_queued'), 0);

    // Reload, as SIGHUP, also of the token file; a broken configuration is refused with the reason.
    const newcomer = 'new-client-token-0123';
    assert.equal(curl(`${base}/v1/status`, { token: newcomer }).status, 401);
    writeFileSync(tokens, `${readFileSync(tokens, 'utf8')}newcomer: ${newcomer}\n`);
    assert.deepEqual(json(curl(`${base}/v1/reload`, { token: ops, method: 'POST' })), { reloaded: true });
    assert.equal(curl(`${base}/v1/status`, { token: newcomer }).status, 200);
    writeFileSync(fixture.conf, readFileSync(fixture.conf, 'utf8').replace('schedule: s', 'schedule: nope'));
    const broken = curl(`${base}/v1/reload`, { token: ops, method: 'POST' });
    assert.equal(broken.status, 422);
    const error = json(broken) as { code: string; error: string };
    assert.equal(error.code, 'RELOAD_FAILED');
    assert.match(error.error, /invalid configuration \(1 problem\):\n.*"nope" is not a defined schedule/);
    assert.match(fixture.schedulerLog(), /INFO http: ops asked to reload the configuration/);
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
  } finally {
    fixture.cleanup();
  }
});

test('a token file others can read or another user owns, or no address to listen on, stops the scheduler with the reason', async () => {
  const fixture = new SchedulerFixture();
  try {
    const jobs = { vm: { schedule: 's', filename: fixture.source('vm.img', 4096) } };
    const schedules = { s: { daily: { interval: '1d', keep: 1 } } };
    const { tokens } = await httpConfig(fixture, jobs, schedules);
    chmodSync(tokens, 0o644);
    const refused = fixture.start();
    assert.deepEqual(await refused.exited, { code: 1, signal: null });
    assert.equal(refused.output(), `backy: api-tokens ${tokens} may be read or written by others (mode 644); allow only its owner: chmod 600 ${tokens}\n`);
    assert.doesNotMatch(refused.output() + fixture.schedulerLog(), /0123456789abcdef/);
    // Readable by its owner only, but that owner is somebody else (nobody), who could read the tokens.
    chmodSync(tokens, 0o600);
    chownSync(tokens, 65534, 65534);
    const foreign = fixture.start();
    assert.deepEqual(await foreign.exited, { code: 1, signal: null });
    const self = process.getuid!();
    assert.equal(foreign.output(), `backy: api-tokens ${tokens} belongs to uid 65534, who may read it; it must belong to the scheduler's user or root: chown ${self} ${tokens}\n`);
    chownSync(tokens, self, process.getgid!());

    const { base } = await httpConfig(fixture, jobs, schedules, { 'http-addrs': '203.0.113.77' });
    const port = new URL(base).port;
    const unbound = fixture.start();
    assert.deepEqual(await unbound.exited, { code: 1, signal: null });
    assert.equal(unbound.output(), `backy: HTTP server cannot listen on any address: 203.0.113.77:${port}: address not available on this host\n`);
  } finally {
    fixture.cleanup();
  }
});

test('the HTTP server is off with an empty http-addrs or http-port 0; one bindable address is enough; without api-tokens only /metrics answers', async () => {
  const fixture = new SchedulerFixture();
  try {
    const jobs = { vm: { schedule: 's', filename: fixture.source('vm.img', 4096) } };
    const schedules = { s: { daily: { interval: '1d', keep: 1 } } };
    const started = async (global: Record<string, unknown>, probe: (base: string) => void = () => undefined) => {
      const { base } = await httpConfig(fixture, jobs, schedules, global);
      const from = fixture.schedulerLog().length;
      const log = () => fixture.schedulerLog().slice(from);
      const scheduler = fixture.start();
      await fixture.waitFor('the scheduler started', () => / INFO scheduler \S+ started: /.test(log()));
      const answer = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${base}/metrics`], { encoding: 'utf8' });
      probe(base);
      assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
      const line = /INFO scheduler \S+ started: .*/.exec(log())![0];
      return { log: log(), line, port: new URL(base).port, curl: answer.status, code: answer.stdout };
    };
    for (const off of [{ 'http-addrs': '' }, { 'http-port': 0 }]) {
      const { line, curl: exit } = await started(off);
      assert.doesNotMatch(line, /HTTP/, JSON.stringify(off));
      assert.equal(exit, 7, `curl cannot connect with ${JSON.stringify(off)}`);
    }
    const partly = await started({ 'http-addrs': '203.0.113.77, 127.0.0.1' });
    assert.match(partly.line, new RegExp(`HTTP server on 127\\.0\\.0\\.1:${partly.port}$`));
    assert.match(partly.log, new RegExp(`WARN HTTP server cannot listen on 203\\.0\\.113\\.77:${partly.port}: address not available on this host; skipped`));
    assert.equal(partly.code, '200');

    const untokened = await started({ 'api-tokens': undefined }, (base) => {
      const refused = curl(`${base}/v1/status`, { token: TOKENS.ops });
      assert.deepEqual([refused.status, (json(refused) as { code: string }).code], [401, 'UNAUTHORIZED']);
      assert.equal(curl(`${base}/?token=${TOKENS.ops}`).status, 401);
    });
    assert.equal(untokened.code, '200');
    assert.match(untokened.log, /WARN HTTP server: no api-tokens file configured: every request but GET \/metrics is refused/);
  } finally {
    fixture.cleanup();
  }
});
