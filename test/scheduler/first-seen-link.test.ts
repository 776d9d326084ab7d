/**
 * `.first-seen` is backy's own file in a job directory: a symlink planted
 * in its place is never followed — not read, not written through — and the
 * job is set up no further (the scheduler skips it, naming the file).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareJobDirectory } from '../../src/scheduler/job-setup.js';
import { fixedClock } from '../../src/util/clock.js';

test('a symlinked .first-seen is refused with one line and what it points to is untouched', async () => {
  const base = mkdtempSync(join(tmpdir(), 'backy-first-seen-'));
  try {
    const victim = join(base, 'victim');
    writeFileSync(victim, 'do not touch\n');
    mkdirSync(join(base, 'vm'));
    writeFileSync(join(base, 'vm', 'config'), 'type: file\nfilename: /srv/vm.img\n');
    symlinkSync(victim, join(base, 'vm', '.first-seen'));
    const job = { name: 'vm', scheduleName: 's', schedule: [{ tag: 'daily', intervalSeconds: 86400, keep: 1 }], source: { type: 'file', filename: '/srv/vm.img' } };
    await assert.rejects(prepareJobDirectory(base, job, fixedClock('2026-12-01T00:00:00Z')), { message: `${join(base, 'vm', '.first-seen')} is a symbolic link; remove it` });
    assert.equal(readFileSync(victim, 'utf8'), 'do not touch\n');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
