/**
 * What every store must do, whatever it keeps its data in: the one suite
 * every store passes (restic's backend suite is the model), on the real
 * filesystems job directories live on.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { alignedBuffer } from '../../src/io/native-io.js';
import { pipeChunks } from '../../src/io/chunk-pipeline.js';
import { HASH_BLOCK_SIZE, ZERO_ENTRY, isZeroBlock } from '../../src/integrity/block-hash.js';
import { hashCheck } from '../../src/integrity/hash-check.js';
import type { RecordedHashes } from '../../src/integrity/hash-record.js';
import { newRevisionId } from '../../src/store/revision-id.js';
import type { RevisionReader, RevisionWriter, Store } from '../../src/store/store.js';
import { silentLogger } from '../../src/util/logger.js';
import { useExt4AndBtrfs, type LoopFilesystem } from '../helpers/loop-fs.js';

const MiB = 1024 * 1024;
const CHUNK = 4 * MiB;

export type StoreFactory = (jobPath: string) => Store;

/** Reads all of a revision back through the store. */
export async function readAll(reader: RevisionReader): Promise<Buffer> {
  const buffer = Buffer.alloc(reader.size);
  for (let at = 0; at < reader.size; at += CHUNK) {
    const length = Math.min(CHUNK, reader.size - at);
    const got = await reader.read(buffer.subarray(at), length, at);
    assert.equal(got, length, `read at ${at}`);
  }
  return buffer;
}

/** Writes `content` through a writer the way sources do: 4 MiB chunks from aligned buffers. */
export async function writeAll(writer: RevisionWriter, content: Buffer): Promise<void> {
  await writer.resize(content.length);
  const buffer = alignedBuffer(CHUNK);
  for (let at = 0; at < content.length; at += CHUNK) {
    const length = Math.min(CHUNK, content.length - at);
    content.copy(buffer, 0, at, at + length);
    await writer.write(at, buffer.subarray(0, length));
  }
}

async function commitNew(store: Store, content: Buffer, parent: { id: string; hashes: RecordedHashes } | null = null) {
  const id = newRevisionId();
  const writer = await store.create(id, parent, silentLogger);
  try {
    await writeAll(writer, content);
    await writer.sync();
    const { hashes } = await writer.commit();
    return { id, hashes };
  } finally {
    await writer.close();
  }
}

/** Every block's recorded entry is the SHA-256 of what the revision holds there (zeros for zero blocks). */
async function assertHashesProve(store: Store, id: string, hashes: RecordedHashes, content: Buffer): Promise<void> {
  const reader = await store.open(id);
  try {
    const record = await reader.hashes(hashes);
    try {
      const entries = await record.read(0, record.blocks);
      for (let block = 0; block * HASH_BLOCK_SIZE < content.length; block++) {
        const data = content.subarray(block * HASH_BLOCK_SIZE, (block + 1) * HASH_BLOCK_SIZE);
        const expected = isZeroBlock(data) ? ZERO_ENTRY : createHash('sha256').update(data).digest();
        assert.ok(entries.subarray(block * 32, block * 32 + 32).equals(expected), `entry of block ${block}`);
      }
      await pipeChunks(reader, { check: hashCheck(record) });
    } finally {
      await record.close();
    }
  } finally {
    await reader.close();
  }
}

function sample(size: number): Buffer {
  // Data, a zero run of whole blocks, data, and a ragged end.
  const content = randomBytes(size);
  content.fill(0, Math.min(size, 3 * MiB), Math.min(size, 5 * MiB + 4096));
  return content;
}

export function storeConformance(name: string, factory: StoreFactory): void {
  const filesystems = useExt4AndBtrfs('512M');
  let counter = 0;
  const fresh = (fs: LoopFilesystem): { store: Store; path: string } => {
    const path = join(fs.path, `${name}-${counter++}`);
    mkdirSync(path);
    return { store: factory(path), path };
  };

  for (const type of ['btrfs', 'ext4'] as const) {
    describe(`the ${name} store on ${type}`, () => {
      it('reads back what was written, with holes where it holds zeros, and records hashes that prove it', async () => {
        const { store } = fresh(filesystems[type]);
        const content = sample(9 * MiB + 12345);
        const { id, hashes } = await commitNew(store, content);
        assert.equal(hashes.algorithm, 'sha256');
        assert.deepEqual(await store.stat(id), { ...(await store.stat(id)), state: 'present', size: content.length });
        const reader = await store.open(id);
        try {
          assert.equal(reader.size, content.length);
          assert.ok((await readAll(reader)).equals(content), 'bytes read back');
          const ranges = await reader.dataRanges(0, content.length);
          const inHole = (offset: number) => !ranges.some(([start, end]) => offset >= start && offset < end);
          assert.ok(inHole(4 * MiB), 'the zero run is a hole');
          assert.ok(!inHole(0) && !inHole(content.length - 1), 'data is data');
        } finally {
          await reader.close();
        }
        await assertHashesProve(store, id, hashes, content);
      });

      it('grows and shrinks a revision made from its parent, zeroes ranges, and hashes what changed', async () => {
        const { store } = fresh(filesystems[type]);
        const parentContent = sample(8 * MiB);
        const parent = await commitNew(store, parentContent);
        for (const size of [8 * MiB + 100 * 1024 + 7, 6 * MiB - 3]) {
          const id = newRevisionId();
          const writer = await store.create(id, { id: parent.id, hashes: parent.hashes }, silentLogger);
          let expected: Buffer;
          try {
            await writer.resize(size);
            expected = Buffer.alloc(size);
            parentContent.copy(expected, 0, 0, Math.min(size, parentContent.length));
            // The source hands over whole chunks; where the image holds the parent, only changes land.
            const changed = Buffer.from(parentContent.subarray(0, CHUNK));
            randomBytes(4096).copy(changed, 65536 + 100);
            const buffer = alignedBuffer(CHUNK);
            changed.copy(buffer);
            await writer.write(0, buffer.subarray(0, CHUNK));
            changed.copy(expected, 0);
            if (!writer.holdsParent) {
              for (let at = CHUNK; at < size; at += CHUNK) {
                const length = Math.min(CHUNK, size - at);
                const piece = alignedBuffer(length);
                expected.copy(piece, 0, at, at + length);
                await writer.write(at, piece);
              }
            }
            await writer.zero(2 * MiB + 10, 300 * 1024);
            expected.fill(0, 2 * MiB + 10, 2 * MiB + 10 + 300 * 1024);
            await writer.overwrite(5 * MiB + 3, Buffer.from('tail of a diff'));
            Buffer.from('tail of a diff').copy(expected, 5 * MiB + 3);
            await writer.sync();
            const { hashes } = await writer.commit();
            await writer.close();
            const reader = await store.open(id);
            assert.ok((await readAll(reader)).equals(expected), `content after resizing to ${size}`);
            await reader.close();
            await assertHashesProve(store, id, hashes, expected);
          } finally {
            await writer.close().catch(() => undefined);
          }
          const again = await store.open(parent.id);
          assert.ok((await readAll(again)).equals(parentContent), 'the parent is unchanged');
          await again.close();
        }
      });

      it('refuses a second writer for the same revision', async () => {
        const { store } = fresh(filesystems[type]);
        const id = newRevisionId();
        const writer = await store.create(id, null, silentLogger);
        try {
          await assert.rejects(store.create(id, null, silentLogger));
        } finally {
          await writer.close();
        }
      });

      it('removes a revision, and lists and removes what a killed write left', async () => {
        const { store, path } = fresh(filesystems[type]);
        const kept = await commitNew(store, sample(5 * MiB));
        const removed = await commitNew(store, sample(5 * MiB));
        await store.remove(removed.id);
        assert.deepEqual(await store.stat(removed.id), { state: 'missing' });
        await assert.rejects(store.open(removed.id), { code: 'missing' });
        await store.remove(removed.id); // already gone: fine

        // A real process writing into the store, killed mid-write.
        const leftover = newRevisionId();
        const child = spawn(process.execPath, [fileURLToPath(new URL('./killed-writer.js', import.meta.url)), name, path, leftover], { stdio: ['ignore', 'pipe', 'inherit'] });
        await new Promise<void>((resolve, reject) => {
          child.stdout.once('data', () => resolve());
          child.once('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
        });
        child.kill('SIGKILL');
        await new Promise((resolve) => child.once('exit', resolve));
        assert.deepEqual((await store.list()).sort(), [kept.id, leftover].sort());
        await store.remove(leftover);
        assert.deepEqual(await store.list(), [kept.id]);
        const reader = await store.open(kept.id);
        assert.equal(reader.size, 5 * MiB);
        await reader.close();
      });
    });
  }
}
