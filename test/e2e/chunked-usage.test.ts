/**
 * The last line of `status` for a chunked job: the distinct chunks its
 * revisions name and the space they take, counted exactly (checked here
 * against every index read independently), and, where the indexes are
 * more than `status` reads, a line saying it was not counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, lstatSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { revisionIds, withNewJob, writeAt } from '../helpers/job-files.js';

const BLOCK = 64 * 1024;
const HEADER = 32;
const ENTRY = 32;

function ok(args: string[]): string {
  const result = backy(args);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  return result.stdout;
}

/** Distinct non-zero entries of every index in the job, and the bytes their chunk files take. */
function countedByHand(job: string): { chunks: number; bytes: number } {
  const names = new Set<string>();
  for (const id of revisionIds(job)) {
    const index = readFileSync(join(job, `${id}.index`));
    for (let at = HEADER; at + ENTRY <= index.length; at += ENTRY) {
      const entry = index.subarray(at, at + ENTRY);
      if (!entry.equals(Buffer.alloc(ENTRY))) names.add(entry.toString('hex'));
    }
  }
  let bytes = 0;
  for (const name of names) bytes += lstatSync(join(job, 'chunks', 'chunks', name.slice(0, 2), name)).blocks * 512;
  return { chunks: names.size, bytes };
}

function formatMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

test('status counts the distinct chunks of all revisions, a block changed back and forth once per content', () => {
  withNewJob('chunked', 4 * 1024 * 1024, ({ job, source }) => {
    ok(['-b', job, 'backup', 'daily']);
    const original = readFileSync(source).subarray(5 * BLOCK, 6 * BLOCK);
    // Block 5 becomes B, then A again (equal to the first revision's, not the previous one's); block 9 changes once.
    writeAt(source, 5 * BLOCK, randomBytes(BLOCK));
    ok(['-b', job, 'backup', 'daily']);
    writeAt(source, 5 * BLOCK, Buffer.from(original));
    writeAt(source, 9 * BLOCK, randomBytes(BLOCK));
    ok(['-b', job, 'backup', 'daily']);
    // The image grows: blocks past the previous revision's end.
    writeAt(source, 4 * 1024 * 1024, randomBytes(3 * BLOCK));
    ok(['-b', job, 'backup', 'daily']);

    const expected = countedByHand(job);
    assert.equal(expected.chunks, 64 + 1 + 1 + 3, 'the hand count itself: 64 blocks, B, the new block 9, three grown ones');
    const last = ok(['-b', job, 'status']).trimEnd().split('\n').at(-1);
    assert.equal(last, `${formatMiB(expected.bytes)} used in the chunk pool by ${expected.chunks} distinct chunks`);
  });
});

test('indexes larger than status reads: the table still prints, and a line says the space was not counted', () => {
  withNewJob('chunked', 256 * 1024, ({ job }) => {
    ok(['-b', job, 'backup', 'daily']);
    // A revision of a 20 TiB image, by hand: a sparse index of 640 MiB (all zero entries).
    const [id] = revisionIds(job);
    const big = 'BigBigBigBigBigBigBigB';
    writeFileSync(join(job, `${big}.rev`), readFileSync(join(job, `${id}.rev`), 'utf8').replaceAll(id!, big).replace(/timestamp: .*/, 'timestamp: 2020-01-01T00:00:00.000Z'));
    copyFileSync(join(job, `${id}.index`), join(job, `${big}.index`));
    truncateSync(join(job, `${big}.index`), HEADER + 20 * 1024 * 1024 * ENTRY);

    const lines = ok(['-b', job, 'status']).trimEnd().split('\n');
    assert.match(lines.at(-2)!, /^2 revisions containing .+ data \(estimated\)$/);
    assert.equal(lines.at(-1), 'space used in the chunk pool not counted: more indexes than status reads (backy gc counts the chunks in use)');
  });
});
