/**
 * The web dashboard of a real scheduler in a real headless browser
 * (Debian's chromium): the jobs page with their SLA, a job's page with its
 * revisions and plots, the login form without a token, and `?token=`
 * links that never reach the log. Screenshots are kept in test-artifacts/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newRevisionId } from '../../src/store/revision-id.js';
import { SchedulerFixture } from '../scheduler/harness.js';
import { curl, httpConfig, TOKENS } from './http-helpers.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

/** Runs headless chromium on a URL: the DOM after its scripts ran, or a screenshot. */
function chromium(url: string, output: { dom: true } | { screenshot: string }): string {
  const profile = mkdtempSync(join(tmpdir(), 'backy-chromium-'));
  try {
    const args = [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`,
      '--window-size=1280,900', '--virtual-time-budget=5000',
      ...('dom' in output ? ['--dump-dom'] : [`--screenshot=${output.screenshot}`]),
      url,
    ];
    const result = spawnSync('chromium', args, { encoding: 'utf8', timeout: 60_000 });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

test('the dashboard in headless chromium: jobs with their SLA, a job with revisions and plots, the login form', async () => {
  const fixture = new SchedulerFixture();
  try {
    const schedules = { s: { daily: { interval: '1d', keep: 20 } } };
    const jobs = {
      'web-frontend': { schedule: 's', filename: fixture.source('web.img', 64 * 1024) },
      'db-primary': { schedule: 's', filename: fixture.source('db.img', 64 * 1024) },
      // Its image is gone: its backups fail, its last one is three days old.
      'mail-archive': { schedule: 's', filename: join(fixture.dir, 'missing.img') },
    };
    const oldRevision = (job: string, daysAgo: number, extra: string) => {
      const id = newRevisionId();
      const timestamp = new Date(Date.now() - daysAgo * 86400_000).toISOString();
      mkdirSync(fixture.job(job), { recursive: true });
      writeFileSync(join(fixture.job(job), id), Buffer.alloc(64 * 1024));
      writeFileSync(join(fixture.job(job), `${id}.rev`), `uuid: ${id}\ntimestamp: ${timestamp}\nparent: ""\ntags: [daily]\n${extra}`);
    };
    // History to plot: a revision a day for a week, growing; one of them distrusted.
    for (let day = 7; day >= 1; day--) {
      const trust = day === 3 ? 'trust: distrusted\n' : '';
      oldRevision('db-primary', day, `${trust}stats: {bytes_written: ${day * 1_000_000}, duration: ${20 + day * 3}}\n`);
    }
    oldRevision('mail-archive', 3, 'stats: {bytes_written: 65536, duration: 4}\n');
    const { base } = await httpConfig(fixture, jobs, schedules);
    const since = new Date();
    const scheduler = fixture.start();
    const ready = await fixture.waitForStatus(
      'two jobs backed up, one failed',
      (s) =>
        s.jobs.length === 3 &&
        s.jobs.every((j) => (j.name === 'mail-archive' ? j.state === 'failed' : j.state === 'waiting' && j.lastBackup !== null && j.lastBackup >= since)),
    );

    // No token: the login form, nothing else.
    const anonymous = chromium(`${base}/`, { dom: true });
    assert.match(anonymous, /<form method="post" action="\/login"/);
    assert.doesNotMatch(anonymous, /web-frontend/);

    const jobsPage = chromium(`${base}/?token=${TOKENS.ops}`, { dom: true });
    assert.match(jobsPage, /<tr data-job="db-primary">.*<td class="sla sla-ok">OK<\/td>/s);
    assert.match(jobsPage, /<tr data-job="web-frontend">/);
    // Late in red: the colours are the stylesheet's, served by the scheduler.
    // Once, unless db-primary's daily slot was a few minutes off: its catch-up then waited for it, and mail-archive retried meanwhile.
    const failures = ready.jobs.find((j) => j.name === 'mail-archive')!.failures;
    assert.match(
      jobsPage,
      new RegExp(`<tr data-job="mail-archive">.*?<td class="sla sla-late">TOO OLD</td><td class="state state-failed">failed \\(${failures} failed\\)</td>`, 's'),
    );
    assert.match(jobsPage, /<span class="sla-late">1 overdue<\/span>, 1 failing/);
    assert.match(curl(`${base}/assets/dashboard.css`).body, /td\.sla-late \{ background: #fde4e7; \}[^]*td\.sla-ok \{ background: #e3f6e8; \}|td\.sla-ok \{ background: #e3f6e8; \}[^]*td\.sla-late \{ background: #fde4e7; \}/);
    const filtered = chromium(`${base}/?filter=WEB&token=${TOKENS.ops}`, { dom: true });
    assert.match(filtered, /<tr data-job="web-frontend">/);
    assert.doesNotMatch(filtered, /<tr data-job="(db-primary|mail-archive)">/);
    assert.match(filtered, /<input type="search" name="filter" id="filter" value="WEB"/);
    const jobPage = chromium(`${base}/jobs/db-primary?token=${TOKENS.ops}`, { dom: true });
    assert.match(jobPage, /<h1>db-primary<\/h1>/);
    assert.equal((jobPage.match(/<tr class="(distrusted)?"><td>/g) ?? []).length, 8, 'seven old revisions and the new one');
    assert.equal((jobPage.match(/class="distrusted"/g) ?? []).length, 1);
    // uPlot drew both plots (its canvases are in the DOM only once the script ran).
    assert.equal((jobPage.match(/<div class="uplot[^"]*"/g) ?? []).length, 2, jobPage.slice(0, 3000));
    assert.equal((jobPage.match(/<canvas/g) ?? []).length, 2);

    // The pages reload themselves and load nothing from elsewhere.
    for (const page of [jobsPage, jobPage]) {
      assert.match(page, /<meta http-equiv="refresh" content="30">/);
      const links = [...page.matchAll(/\b(?:src|href|action)="([^"]*)"/g)].map((m) => m[1]!);
      assert.ok(links.length > 3, links.join(' '));
      for (const link of links) assert.match(link, /^\/(?!\/)/, `${link} is served by the scheduler`);
    }

    mkdirSync(ARTIFACTS, { recursive: true });
    for (const [name, path] of [['dashboard-jobs.png', '/'], ['dashboard-job.png', '/jobs/db-primary']] as const) {
      const file = join(ARTIFACTS, name);
      chromium(`${base}${path}?token=${TOKENS.ops}`, { screenshot: file });
      assert.ok(existsSync(file) && statSync(file).size > 10_000, `${file} was written`);
    }

    // A link with ?token=: an HttpOnly, SameSite=Strict session and a redirect to the same address without the token.
    const link = curl(`${base}/jobs/db-primary?filter=db&token=${TOKENS.ops}&view=all`);
    assert.equal(link.status, 303);
    assert.match(link.headers, /^location: \/jobs\/db-primary\?filter=db&view=all\r?$/im);
    const linked = /^set-cookie: (backy_session=[^;]+); Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict\r?$/im.exec(link.headers);
    assert.ok(linked, link.headers);
    assert.equal(curl(`${base}/jobs/db-primary?filter=db&view=all`, { args: ['-H', `Cookie: ${linked[1]}`] }).status, 200);
    const badLink = curl(`${base}/?token=wrong-link-token-0123`);
    assert.equal(badLink.status, 401);
    assert.doesNotMatch(badLink.headers, /set-cookie/i);
    assert.match(badLink.body, /<form method="post" action="\/login"/);
    assert.doesNotMatch(badLink.body, /wrong-link-token/);

    // The login form gives a session cookie too; a wrong token gets the form again, 401.
    const wrong = curl(`${base}/login`, { method: 'POST', args: ['--data-urlencode', 'token=wrong-token-123456', '--data-urlencode', 'next=/'] });
    assert.equal(wrong.status, 401);
    const login = curl(`${base}/login`, { method: 'POST', args: ['--data-urlencode', `token=${TOKENS.ci}`, '--data-urlencode', 'next=/jobs/web-frontend'] });
    assert.equal(login.status, 303);
    assert.match(login.headers, /location: \/jobs\/web-frontend/i);
    const cookie = /set-cookie: (backy_session=[^;]+); Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict/i.exec(login.headers);
    assert.ok(cookie, login.headers);
    assert.equal(curl(`${base}/jobs/web-frontend`, { args: ['-H', `Cookie: ${cookie[1]}`] }).status, 200);
    // A stale link to a job that is gone: a page saying so, its name escaped.
    const gone = curl(`${base}/jobs/%3Cb%3Eold-vm`, { args: ['-H', `Cookie: ${cookie[1]}`] });
    assert.equal(gone.status, 404);
    assert.match(gone.headers, /content-type: text\/html/i);
    assert.match(gone.body, /No job named "&#60;b&#62;old-vm" in this scheduler's configuration\.[^]*<a href="\/">All jobs<\/a>/);
    // A session is no API token, and an offsite "next" never leaves the server.
    assert.equal(curl(`${base}/v1/jobs`, { args: ['-H', `Cookie: ${cookie[1]}`] }).status, 401);
    // Browsers drop a tab or line break from a Location: `/<TAB>/evil.example` would take them to //evil.example.
    for (const next of ['//evil.example/', '/\t/evil.example', '/\n/evil.example', '/\\evil.example']) {
      const offsite = curl(`${base}/login`, { method: 'POST', args: ['--data-urlencode', `token=${TOKENS.ci}`, '--data-urlencode', `next=${next}`] });
      assert.match(offsite.headers, /location: \/\r?$/im, JSON.stringify(next));
    }

    // The pages' assets hold no data: the login form is styled without a session; nothing else is served.
    assert.equal(curl(`${base}/assets/dashboard.css`).status, 200);
    assert.equal(curl(`${base}/assets/constructor`).status, 404);
    assert.equal(curl(`${base}/assets/..%2Fapp.js`).status, 404);

    const log = fixture.schedulerLog();
    assert.match(log, /INFO http: ops signed in to the dashboard from 127\.0\.0\.1 \(by link\)/);
    assert.match(log, /WARN http: refused a dashboard link from 127\.0\.0\.1: its token is not in the token file/);
    assert.doesNotMatch(log, new RegExp(`${TOKENS.ops}|${TOKENS.ci}|wrong-token|wrong-link-token|filter=|token=`), 'no token (nor query string) is logged');
    assert.deepEqual(await scheduler.stop(), { code: 0, signal: null });
  } finally {
    fixture.cleanup();
  }
});
