import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DELTA_BLOCK_SIZE, DeltaWriter, type Baseline } from './delta-writer.js';
import { ImageFile } from '../../io/image-file.js';

const BLOCK = DELTA_BLOCK_SIZE;
const dir = mkdtempSync(join(tmpdir(), 'backy-delta-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

/**
 * A real file holding `content`, opened as an image; by default its baseline
 * is the file itself, opened a second time as the parent it was cloned from.
 */
async function imageWith(content: Buffer, baseline?: Baseline) {
  const path = join(dir, `image-${counter++}`);
  writeFileSync(path, content);
  const writer = await DeltaWriter.open(
    ImageFile.buffered(await open(path, 'r+')),
    baseline ?? { kind: 'parent', id: 'parent', handle: await open(path, 'r'), size: content.length },
  );
  return { path, writer };
}

function allocated(path: string): number {
  return statSync(path).blocks * 512;
}

test('only the 64 KiB blocks that differ are written', async () => {
  const old = randomBytes(64 * BLOCK);
  const wanted = Buffer.from(old);
  for (const block of [0, 7, 8, 63]) randomBytes(BLOCK).copy(wanted, block * BLOCK);
  // A single changed byte costs its whole block.
  wanted[20 * BLOCK + 12345] = wanted[20 * BLOCK + 12345]! ^ 0xff;
  const { path, writer } = await imageWith(old);
  await writer.write(0, wanted);
  await writer.close();
  assert.equal(writer.stats().bytesWritten, 5 * BLOCK);
  assert.equal(writer.stats().bytesPunched, 0);
  assert.equal(writer.stats().bytesCompared, wanted.length);
  assert.ok(readFileSync(path).equals(wanted));
});

test('nothing is written when the content is unchanged', async () => {
  const old = randomBytes(16 * BLOCK);
  const { path, writer } = await imageWith(old);
  for (let offset = 0; offset < old.length; offset += 4 * BLOCK) await writer.write(offset, old.subarray(offset, offset + 4 * BLOCK));
  await writer.close();
  assert.equal(writer.stats().bytesWritten, 0);
  assert.ok(readFileSync(path).equals(old));
});

test('zeroed blocks become holes instead of written zeros', async () => {
  const old = randomBytes(64 * BLOCK);
  const wanted = Buffer.from(old);
  wanted.fill(0, 16 * BLOCK, 48 * BLOCK);
  const { path, writer } = await imageWith(old);
  const before = allocated(path);
  await writer.write(0, wanted);
  await writer.sync();
  await writer.close();
  assert.equal(writer.stats().bytesWritten, 0);
  assert.equal(writer.stats().bytesPunched, 32 * BLOCK);
  assert.ok(readFileSync(path).equals(wanted));
  assert.ok(before - allocated(path) >= 32 * BLOCK, `${before - allocated(path)} bytes freed`);
  assert.ok(allocated(path) <= 32 * BLOCK + 4096);

  // zero() makes a hole of the aligned middle and writes the ragged edges.
  const second = await imageWith(randomBytes(8 * BLOCK));
  await second.writer.zero(1000, 4 * BLOCK);
  await second.writer.close();
  const content = readFileSync(second.path);
  assert.ok(content.subarray(1000, 1000 + 4 * BLOCK).equals(Buffer.alloc(4 * BLOCK)));
  assert.equal(second.writer.stats().bytesWritten, 4096 - 1000 + 1000);
  assert.equal(second.writer.stats().bytesPunched, 4 * BLOCK - 4096);
});

test('a fresh image compares against zeros: zero blocks are neither written nor allocated', async () => {
  const wanted = randomBytes(32 * BLOCK);
  wanted.fill(0, 4 * BLOCK, 28 * BLOCK);
  const { path, writer } = await imageWith(Buffer.alloc(0), { kind: 'empty' });
  await writer.resize(wanted.length);
  await writer.write(0, wanted);
  await writer.sync();
  await writer.close();
  assert.equal(writer.stats().bytesWritten, 8 * BLOCK);
  assert.ok(readFileSync(path).equals(wanted));
  assert.ok(allocated(path) <= 8 * BLOCK + 4096, `${allocated(path)} bytes allocated`);
});

test('resize follows the source: shrink cuts, grow adds zeros that are known without reading', async () => {
  const old = randomBytes(16 * BLOCK);
  const { path, writer } = await imageWith(old);
  await writer.resize(6 * BLOCK);
  assert.equal(writer.size, 6 * BLOCK);
  assert.equal(statSync(path).size, 6 * BLOCK);
  await writer.resize(10 * BLOCK);
  assert.equal(statSync(path).size, 10 * BLOCK);
  // The regrown part is zeros: writing zeros there costs nothing, the old bytes must be rewritten.
  await writer.write(6 * BLOCK, Buffer.alloc(2 * BLOCK));
  assert.equal(writer.stats().bytesWritten, 0);
  await writer.write(8 * BLOCK, old.subarray(8 * BLOCK, 10 * BLOCK));
  assert.equal(writer.stats().bytesWritten, 2 * BLOCK);
  // Writing past the end grows the image.
  const tail = randomBytes(BLOCK);
  await writer.write(12 * BLOCK, tail);
  await writer.close();
  const expected = Buffer.concat([old.subarray(0, 6 * BLOCK), Buffer.alloc(2 * BLOCK), old.subarray(8 * BLOCK, 10 * BLOCK), Buffer.alloc(2 * BLOCK), tail]);
  assert.ok(readFileSync(path).equals(expected));
  assert.equal(writer.size, 13 * BLOCK);
});

test('unaligned offsets and tails: only the differing part of a block is compared and written', async () => {
  const size = 3 * BLOCK + 1696;
  const old = randomBytes(size);
  const wanted = Buffer.from(old);
  randomBytes(1000).copy(wanted, BLOCK + 5000);
  // The tail past the last whole block is zeroed: too short to be a hole, so it is written.
  wanted.fill(0, 3 * BLOCK);
  const { path, writer } = await imageWith(old);
  await writer.write(BLOCK + 5000, wanted.subarray(BLOCK + 5000, BLOCK + 6000));
  assert.equal(writer.stats().bytesWritten, 1000);
  await writer.write(2 * BLOCK + 7, wanted.subarray(2 * BLOCK + 7));
  await writer.close();
  assert.equal(writer.stats().bytesWritten, 1000 + 1696);
  assert.equal(writer.stats().bytesPunched, 0);
  assert.ok(readFileSync(path).equals(wanted));
  assert.equal(statSync(path).size, size);
});

test('with a parent baseline, blocks are compared against the parent and verification reads the result', async () => {
  const parentContent = randomBytes(8 * BLOCK);
  const parentPath = join(dir, `parent-${counter++}`);
  writeFileSync(parentPath, parentContent);
  const parent = await open(parentPath, 'r');
  const wanted = Buffer.from(parentContent);
  randomBytes(BLOCK).copy(wanted, 3 * BLOCK);
  const { path, writer } = await imageWith(parentContent, { kind: 'parent', id: 'parent', handle: parent, size: parentContent.length });
  await writer.write(0, wanted);
  assert.equal(writer.stats().bytesWritten, BLOCK);
  const reader = writer.reader();
  const readBack = Buffer.alloc(wanted.length);
  assert.equal(await reader.read(readBack, wanted.length, 0), wanted.length);
  assert.ok(readBack.equals(wanted));
  await writer.close();
  assert.ok(readFileSync(path).equals(wanted));
  assert.ok(readFileSync(parentPath).equals(parentContent), 'the parent is only read');
});

test('overwrite writes without reading the baseline; zero blocks still become holes', async () => {
  const parentContent = randomBytes(8 * BLOCK);
  const parentPath = join(dir, `parent-${counter++}`);
  writeFileSync(parentPath, parentContent);
  const parent = await open(parentPath, 'r');
  const { path, writer } = await imageWith(parentContent, { kind: 'parent', id: 'parent', handle: parent, size: parentContent.length });
  const data = Buffer.concat([parentContent.subarray(2 * BLOCK, 3 * BLOCK), Buffer.alloc(BLOCK), randomBytes(BLOCK)]);
  await writer.overwrite(2 * BLOCK, data);
  // The unchanged first block is written anyway: nothing was compared.
  assert.deepEqual(writer.stats(), { bytesWritten: 2 * BLOCK, bytesPunched: BLOCK, bytesCompared: 0 });
  const wanted = Buffer.from(parentContent);
  data.copy(wanted, 2 * BLOCK);
  const readBack = Buffer.alloc(wanted.length);
  assert.equal(await writer.reader().read(readBack, wanted.length, 0), wanted.length);
  assert.ok(readBack.equals(wanted));
  await writer.close();
  assert.ok(readFileSync(path).equals(wanted));
});

test('writes called before the previous ones settled compare against the parent each, and all land', async () => {
  const parentContent = randomBytes(32 * BLOCK);
  const wanted = Buffer.from(parentContent);
  // Every other 64 KiB block changes, one chunk becomes zeros.
  for (let block = 0; block < 32; block += 2) randomBytes(BLOCK).copy(wanted, block * BLOCK);
  wanted.fill(0, 8 * BLOCK, 12 * BLOCK);
  const { path, writer } = await imageWith(parentContent);
  const chunk = 4 * BLOCK;
  const writes: Array<Promise<void>> = [];
  // Each chunk from its own buffer, as a source with several buffers hands them over.
  for (let offset = 0; offset < wanted.length; offset += chunk) writes.push(writer.write(offset, Buffer.from(wanted.subarray(offset, offset + chunk))));
  await Promise.all(writes);
  const readBack = Buffer.alloc(wanted.length);
  assert.equal(await writer.reader().read(readBack, wanted.length, 0), wanted.length);
  await writer.close();
  assert.ok(readBack.equals(wanted));
  assert.ok(readFileSync(path).equals(wanted));
  // 16 changed blocks, of which 2 fall in the zeroed range and are punched with its other 2.
  assert.equal(writer.stats().bytesWritten, 14 * BLOCK);
  assert.equal(writer.stats().bytesPunched, 4 * BLOCK);
});
