/**
 * A job directory's listing while a `.rev` in it is rewritten (tmp file
 * renamed over it, as a verification or retention does): on btrfs a plain
 * readdir misses the file now and then; the listing backy uses never does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { mountLoopFilesystem, type LoopFilesystem } from '../helpers/loop-fs.js';
import { readListing } from '../../src/store/directory-listing.js';

const LISTINGS = 2000;

// Rewrites NAME in DIR about once a millisecond until terminated.
const REWRITER = `
const { workerData: { dir, name } } = require('node:worker_threads');
const { writeFileSync, renameSync } = require('node:fs');
const pause = new Int32Array(new SharedArrayBuffer(4));
for (let n = 0; ; n++) {
  writeFileSync(dir + '/.' + name + '.tmp', String(n));
  renameSync(dir + '/.' + name + '.tmp', dir + '/' + name);
  Atomics.wait(pause, 0, 0, 1);
}`;

describe('a job directory listed while a .rev in it is rewritten, on btrfs', () => {
  let fs: LoopFilesystem;
  before(() => {
    fs = mountLoopFilesystem('btrfs', '1G');
  });
  after(() => fs.dispose());

  it('lists the rewritten .rev every time', async () => {
    const dir = join(fs.path, 'job');
    mkdirSync(dir);
    for (let i = 0; i < 30; i++) writeFileSync(join(dir, `r${i}.rev`), 'x');
    const rewriter = new Worker(REWRITER, { eval: true, workerData: { dir, name: 'r15.rev' } });
    let listings = 0;
    let missed = 0;
    try {
      // Enough listings to tell, however slow this machine is today: at least 2 s and 2,000 of them.
      const started = Date.now();
      for (; listings < LISTINGS || Date.now() - started < 2000; listings++) {
        assert.ok(Date.now() - started < 120_000, `only ${listings} listings in 2 minutes`);
        if (!(await readListing(dir)).entries.some((entry) => entry.name === 'r15.rev')) missed++;
      }
    } finally {
      await rewriter.terminate();
    }
    assert.equal(missed, 0, `missed in ${missed} of ${listings} listings`);
  });
});
