import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENTRY_LENGTH } from './block-hash.js';
import { HashRecord, HashRecordWriter, HEADER_LENGTH } from './hash-record.js';

test("a complete record's entries read the same in any order and size, whichever span was kept", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'backy-record-'));
  try {
    const blockSize = 65536;
    const blocks = 10_000;
    const path = join(dir, 'record');
    const writer = await HashRecordWriter.create(path, blockSize, blocks * blockSize);
    await writer.write(0, randomBytes(blocks * ENTRY_LENGTH));
    const recorded = await writer.finish();
    await writer.close();
    const file = readFileSync(path);
    const expected = (first: number, count: number) => file.subarray(HEADER_LENGTH + first * ENTRY_LENGTH, HEADER_LENGTH + (first + count) * ENTRY_LENGTH);

    const record = await HashRecord.open(path, blocks * blockSize, recorded);
    try {
      // In order, as a client reads; back and forth between places; beyond a span; the last blocks.
      const reads: Array<[number, number]> = [[0, 16], [16, 16], [4090, 16], [9000, 1000], [100, 5000], [9999, 1], [8192, 16], [0, 1], [5000, 16], [12, 4]];
      for (let i = 0; i < 200; i++) {
        const count = 1 + Math.floor(Math.random() * 64);
        reads.push([Math.floor(Math.random() * (blocks - count)), count]);
      }
      for (const [first, count] of reads) assert.ok((await record.read(first, count)).equals(expected(first, count)), `${count} entries from ${first}`);
      // Reads at once, as the requests of several clients are.
      const results = await Promise.all(reads.map(([first, count]) => record.read(first, count)));
      results.forEach((entries, i) => assert.ok(entries.equals(expected(...reads[i]!))));
      await assert.rejects(record.read(9990, 20), /the hash record ends at block 10000/);
    } finally {
      await record.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
