/**
 * `backy find -r SPEC` with every form of revision spec the manual names,
 * in DESIGN.md's order, against a job directory with known IDs: stdout
 * carries the image's path and nothing else; a bad spec is one line naming
 * it, exit 1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { assertOneLineError } from '../helpers/job-files.js';

const REVISIONS = [
  { id: 'Aa2bCdEfGhJkMnPqRsTuVw', day: 1, tags: ['daily', 'weekly'], complete: true },
  { id: 'Aa3bCdEfGhJkMnPqRsTuVw', day: 2, tags: ['daily'], complete: true },
  { id: 'Bc4dEfGhJkMnPqRsTuVwXy', day: 3, tags: ['hourly'], complete: true },
  // The newest, but its backup never finished: no spec but its ID finds it.
  { id: 'Dd5eFgHjKmNpQrStUvWxYz', day: 4, tags: ['hourly', 'daily'], complete: false },
];

let dir = '';
let job = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'backy-find-'));
  job = join(dir, 'job');
  mkdirSync(job);
  writeFileSync(join(job, 'config'), 'type: file\nfilename: /srv/vm/disk.img\n');
  for (const r of REVISIONS) {
    const stats = r.complete ? 'stats:\n  bytes_written: 65536\n  duration: 2.5\n' : 'stats: {}\n';
    const timestamp = `2026-01-0${r.day}T06:00:00.000Z`;
    writeFileSync(join(job, `${r.id}.rev`), `uuid: ${r.id}\ntimestamp: ${timestamp}\nparent: ""\ntags: [${r.tags.join(', ')}]\n${stats}`);
    writeFileSync(join(job, r.id), 'image');
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

function found(...args: string[]): string {
  const result = backy(['-b', job, 'find', ...args]);
  assert.equal(result.status, 0, `find ${args.join(' ')}: ${result.stderr}`);
  assert.equal(result.stderr, '', 'nothing on stderr');
  const lines = result.stdout.split('\n');
  assert.equal(lines.length, 2, `one line on stdout: ${JSON.stringify(result.stdout)}`);
  assert.equal(lines[1], '');
  return lines[0]!;
}

const image = (id: string) => join(job, id);

test('relative numbers count back from the newest complete revision', () => {
  assert.equal(found('-r', '0'), image('Bc4dEfGhJkMnPqRsTuVwXy'));
  assert.equal(found('-r', '1'), image('Aa3bCdEfGhJkMnPqRsTuVw'));
  assert.equal(found('--revision', '2'), image('Aa2bCdEfGhJkMnPqRsTuVw'));
  assertOneLineError(backy(['-b', job, 'find', '-r', '3']), /^backy: .*\b3\b.*not found/, 'one number too far');
});

test('full IDs and unique prefixes', () => {
  assert.equal(found('-r', 'Aa2bCdEfGhJkMnPqRsTuVw'), image('Aa2bCdEfGhJkMnPqRsTuVw'));
  assert.equal(found('-r', 'Aa3'), image('Aa3bCdEfGhJkMnPqRsTuVw'));
  assert.equal(found('-r', 'B'), image('Bc4dEfGhJkMnPqRsTuVwXy'));
});

test('an ambiguous prefix is an error naming the spec', () => {
  const result = backy(['-b', job, 'find', '-r', 'Aa']);
  assertOneLineError(result, /^backy: .*"Aa".*ambiguous/, 'ambiguous prefix');
  assert.equal(result.stdout, '');
});

test('last, latest and no spec name the newest complete revision', () => {
  assert.equal(found(), image('Bc4dEfGhJkMnPqRsTuVwXy'));
  assert.equal(found('-r', 'last'), image('Bc4dEfGhJkMnPqRsTuVwXy'));
  assert.equal(found('-r', 'latest'), image('Bc4dEfGhJkMnPqRsTuVwXy'));
});

test('a tag names the newest complete revision carrying it', () => {
  assert.equal(found('-r', 'daily'), image('Aa3bCdEfGhJkMnPqRsTuVw'));
  assert.equal(found('-r', 'weekly'), image('Aa2bCdEfGhJkMnPqRsTuVw'));
  assert.equal(found('-r', 'hourly'), image('Bc4dEfGhJkMnPqRsTuVwXy'));
});

test('an unknown spec or an incomplete revision: one line naming it, exit 1, nothing on stdout', () => {
  for (const spec of ['monthly', 'Zz', 'yesterday']) {
    const result = backy(['-b', job, 'find', '-r', spec]);
    assertOneLineError(result, new RegExp(`^backy: .*"${spec}"`), `spec ${spec}`);
    assert.equal(result.stdout, '');
  }
  const incomplete = backy(['-b', job, 'find', '-r', 'Dd5']);
  assertOneLineError(incomplete, /^backy: .*Dd5eFgHjKmNpQrStUvWxYz.*incomplete/, 'incomplete revision');
  assert.equal(incomplete.stdout, '');
});

test('a number beyond the revisions is still a tag, never an ID prefix', () => {
  const other = join(dir, 'numbered');
  mkdirSync(other);
  writeFileSync(join(other, 'config'), 'type: file\nfilename: /srv/vm/disk.img\n');
  for (const [id, day, tag] of [['28bCdEfGhJkMnPqRsTuVwX', 1, '7'], ['Ee6fGhJkMnPqRsTuVwXyZa', 2, 'daily']] as const) {
    writeFileSync(join(other, `${id}.rev`), `uuid: ${id}\ntimestamp: 2026-01-0${day}T06:00:00.000Z\nparent: ""\ntags: ['${tag}']\nstats: {bytes_written: 65536, duration: 2.5}\n`);
    writeFileSync(join(other, id), 'image');
  }
  for (const spec of ['7', '28b']) {
    const result = backy(['-b', other, 'find', '-r', spec]);
    assert.equal(result.status, 0, `find -r ${spec}: ${result.stderr}`);
    assert.equal(result.stdout, `${join(other, '28bCdEfGhJkMnPqRsTuVwX')}\n`);
  }
  // `-r 2` with two revisions must not restore whichever revision's ID happens to start with 2.
  for (const spec of ['2', '28', '9']) {
    assertOneLineError(backy(['-b', other, 'find', '-r', spec]), new RegExp(`^backy: revision ${spec} not found: the job has 2 complete revisions \\(a number is never taken for an ID prefix`), `-r ${spec}`);
  }
});
