/**
 * A file backup's verification on real filesystems, with the source or the
 * written image changed between transfer and verification: the image is
 * compared by checksums of what was written, with its first and last chunk
 * and a sample read back (from the disk on ext4, where it was written past
 * the page cache; through the cache on btrfs, where reading all of it back
 * would prove no more). Either way a source that changed during the
 * backup is caught to the byte.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CowStore } from '../../src/store/cow/cow-store.js';
import { checksum } from '../../src/io/chunk-checksums.js';
import { alignedBuffer } from '../../src/io/native-io.js';
import { FileSource } from '../../src/sources/file/file-source.js';
import type { VerificationResult } from '../../src/sources/source.js';
import { silentLogger } from '../../src/util/logger.js';
import { writeAt } from '../helpers/job-files.js';
import { useExt4AndBtrfs, type LoopFilesystem } from '../helpers/loop-fs.js';

const MiB = 1024 * 1024;
const CHUNK = 4 * MiB;
const filesystems = useExt4AndBtrfs('256M');
let counter = 0;

/**
 * A first backup of `content` into a job directory on `fs`, with `meddle`
 * run after the image is written and flushed, before verification.
 */
async function backUp(fs: LoopFilesystem, content: Buffer, meddle: (source: string, image: string) => void): Promise<VerificationResult> {
  const dir = join(fs.path, `job-${counter++}`);
  mkdirSync(dir);
  const source = join(dir, 'vm.img');
  writeFileSync(source, content);
  const store = new CowStore(dir);
  const id = 'ENpdQfhQVgzoiWwT4KuQqP';
  const backup = await new FileSource(source).begin({
    revision: { uuid: id, timestamp: new Date(), parent: null, tags: [], stats: {}, trust: 'trusted', hashes: null, verified: null },
    parent: null,
    logger: silentLogger,
    signal: new AbortController().signal,
    onProgress: () => undefined,
  });
  try {
    const writer = await store.create(id, null, silentLogger);
    try {
      await backup.transfer(writer);
      await writer.sync();
      meddle(source, store.filePath(id));
      return await backup.verify(writer.reader());
    } finally {
      await writer.close();
    }
  } finally {
    await backup.finish({ success: false });
    rmSync(dir, { recursive: true });
  }
}

const content = Buffer.concat([randomBytes(9 * CHUNK), Buffer.alloc(2 * CHUNK), randomBytes(CHUNK + 1234)]);

test('every byte of the source is compared, most of the image by checksum, on ext4 and on btrfs', async () => {
  for (const fs of [filesystems.ext4, filesystems.btrfs]) {
    const result = await backUp(fs, content, () => undefined);
    assert.equal(result.kind, 'checksum', fs.type);
    assert.equal(result.bytesVerified, content.length);
    // The first chunk and the ragged last one always, a random 1% of the others.
    assert.ok(result.bytesReadBack! >= CHUNK + 1234 && result.bytesReadBack! < content.length / 2, `${fs.type}: read back ${result.bytesReadBack}`);
  }
});

test('a source changed after its chunk was written fails verification at that byte, on either filesystem', async () => {
  for (const fs of [filesystems.ext4, filesystems.btrfs]) {
    for (const at of [5 * CHUNK + 777, 10 * CHUNK + 3, content.length - 1]) {
      await assert.rejects(
        backUp(fs, content, (source) => writeAt(source, at, Buffer.from([content[at]! ^ 0x40]))),
        (err: Error) => {
          assert.match(err.message, new RegExp(`^verification failed: the image differs from \\S+vm\\.img at byte ${at} \\(the source changed during the backup\\? freeze it while backing up\\)$`));
          return true;
        },
        `${fs.type}, byte ${at}`,
      );
    }
  }
});

test('an image that lost what was written in its first or last chunk fails verification, on either filesystem', async () => {
  for (const fs of [filesystems.ext4, filesystems.btrfs]) {
    for (const at of [4096 * 3, content.length - 1000]) {
      await assert.rejects(
        // Each byte unlike the one it replaces: a fixed pattern would equal the random content at `at` once in 256 runs.
        backUp(fs, content, (_source, image) => writeAt(image, at, Buffer.from(content.subarray(at, at + 16).map((byte) => byte ^ 0xff)))),
        new RegExp(`verification failed: the image differs from \\S+ at byte ${at} `),
        `${fs.type}, byte ${at}`,
      );
    }
  }
});

test('a writer keeps checksums of the whole chunks it wrote once, and none for those touched otherwise', async () => {
  for (const fs of [filesystems.ext4, filesystems.btrfs]) {
    const dir = join(fs.path, `writer-${counter++}`);
    mkdirSync(dir);
    const store = new CowStore(dir);
    const writer = await store.create('FqZGAe6iG2hadwJoHdpigW', null, silentLogger);
    try {
      const chunks = [0, 1, 2].map(() => {
        const buffer = alignedBuffer(CHUNK);
        randomBytes(CHUNK).copy(buffer);
        return buffer;
      });
      await writer.resize(3 * CHUNK + 4096);
      for (const [index, data] of chunks.entries()) await writer.write(index * CHUNK, data);
      await writer.write(3 * CHUNK, chunks[0]!.subarray(0, 4096));
      await writer.zero(CHUNK + 8192, 4096);
      const reader = writer.reader();
      const known = [0, 1, 2, 3].map((index) => reader.writtenChecksum?.(index * CHUNK, Math.min(CHUNK, reader.size - index * CHUNK)));
      assert.deepEqual(known, [checksum(chunks[0]!), undefined, checksum(chunks[2]!), checksum(chunks[0]!.subarray(0, 4096))], fs.type);
      await writer.resize(3 * CHUNK + 8192);
      assert.equal(writer.reader().writtenChecksum?.(3 * CHUNK, 8192), undefined, 'a grown last chunk holds more than was written');
      assert.equal(writer.reader().writtenChecksum?.(2 * CHUNK, CHUNK), checksum(chunks[2]!));
      // Written a second time, a chunk is compared with the parent, not with the first write: read back instead.
      await writer.write(2 * CHUNK, chunks[1]!);
      assert.equal(writer.reader().writtenChecksum?.(2 * CHUNK, CHUNK), undefined, 'a chunk written twice');
    } finally {
      await writer.close();
      rmSync(dir, { recursive: true });
    }
  }
});
