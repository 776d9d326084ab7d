/**
 * What a client reads is the revision's bytes or an error, never other
 * bytes: replies do not mix, and status queries do not call data zeros.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backy } from '../helpers/cli.js';
import { readRevisionYaml } from '../helpers/job-files.js';
import { RawNbd, u16, u32 } from '../helpers/nbd-wire.js';
import { MiB, jobWithRevision, runTool, startServe, writeTestImage } from '../helpers/serve-process.js';

const SIMPLE_REPLY_MAGIC = 0x67446698;
const REPLY_TYPE_BLOCK_STATUS = 5;
const REPLY_TYPE_ERROR_OFFSET = 0x8002;

/** Client flags and NBD_OPT_GO only: no structured replies, so every reply is a simple one. */
async function simpleHandshake(client: RawNbd): Promise<void> {
  client.send(u32(3));
  client.option(7, Buffer.concat([u32(0), u16(0)]));
  for (;;) {
    const reply = await client.optionReply();
    if (reply.type === 1) return;
    assert.ok(reply.type < 0x80000000, `NBD_OPT_GO failed: ${reply.type.toString(16)}`);
  }
}

/** A block status chunk's (length, flags) pairs. */
function descriptorsOf(payload: Buffer): Array<[number, number]> {
  const descriptors: Array<[number, number]> = [];
  for (let at = 4; at < payload.length; at += 8) descriptors.push([payload.readUInt32BE(at), payload.readUInt32BE(at + 4)]);
  return descriptors;
}

describe('backy serve: the bytes a client reads', () => {
  let dir = '';
  let job = '';
  let id = '';
  let content: Buffer;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'backy-nbd-data-'));
    content = writeTestImage(join(dir, 'source.img'));
    job = join(dir, 'job');
    id = jobWithRevision(job, join(dir, 'source.img'), 'cow');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('simple replies: a read over two windows is one message, whatever small reads follow it at once', async () => {
    const server = await startServe(job, ['-r', id, '--listen', '127.0.0.1:0']);
    try {
      for (let trial = 0; trial < 10; trial++) {
        const client = await RawNbd.open(server.uri);
        await simpleHandshake(client);
        // 2 MiB over three windows (data, then holes), then eight reads of data that fit in one window each.
        const offset = 512 * 1024;
        const length = 2 * MiB;
        const small = (k: number) => 5 * MiB + k * 4096;
        client.request(0, BigInt(offset), length, 1n);
        for (let k = 2; k < 10; k++) client.request(0, BigInt(small(k)), 4096, BigInt(k));
        const replies = new Map<bigint, Buffer>();
        // Each reply's length is its request's: the first asked for is the long one, whichever comes first.
        for (let k = 1; k < 10; k++) {
          const peek = await client.read(16);
          assert.equal(peek.readUInt32BE(0), SIMPLE_REPLY_MAGIC, `trial ${trial}: bytes where a reply header belongs: ${peek.toString('hex')}`);
          assert.equal(peek.readUInt32BE(4), 0);
          const cookie = peek.readBigUInt64BE(8);
          replies.set(cookie, Buffer.from(await client.read(cookie === 1n ? length : 4096)));
        }
        assert.ok(replies.get(1n)!.equals(content.subarray(offset, offset + length)), `trial ${trial}: the long read's data is not the revision's`);
        for (let k = 2; k < 10; k++) {
          assert.ok(replies.get(BigInt(k))!.equals(content.subarray(small(k), small(k) + 4096)), `trial ${trial}: read ${k}`);
        }
        client.close();
      }
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('NBD_CMD_DISC behind reads still in flight, the client then shutting its side down (as libnbd does): every read is answered', async () => {
    const server = await startServe(job, ['-r', id, '--listen', '127.0.0.1:0']);
    try {
      const client = await RawNbd.open(server.uri);
      await client.handshake();
      const reads = [0, 3, 6, 9].map((k) => ({ offset: k * MiB + 512, length: 3 * MiB }));
      reads.forEach((read, index) => client.request(0, BigInt(read.offset), read.length, BigInt(index)));
      client.request(2, 0n, 0, 99n);
      client.endInput();
      const got = reads.map((read) => Buffer.alloc(read.length));
      for (let done = 0; done < reads.length; ) {
        const chunk = await client.chunk();
        const index = Number(chunk.cookie);
        assert.ok(chunk.type === 1 || chunk.type === 2, `read ${index}: a chunk of type ${chunk.type}`);
        if (chunk.type === 1) chunk.payload.subarray(8).copy(got[index]!, Number(chunk.payload.readBigUInt64BE(0)) - reads[index]!.offset);
        if (chunk.flags & 1) done++;
      }
      reads.forEach((read, index) => assert.ok(got[index]!.equals(content.subarray(read.offset, read.offset + read.length)), `read ${index}`));
      assert.equal(await client.hungUp(), true, 'the server closes the connection after the disconnect');
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  describe('a data block gone from the image file (a punched hole)', () => {
    const punched = 5 * MiB;
    before(() => {
      const image = join(job, id);
      chmodSync(image, 0o644);
      assert.equal(runTool('fallocate', ['--punch-hole', '-o', String(punched), '-l', String(64 * 1024), image]).status, 0);
    });

    test('is data to a status query, and a read of it fails: qemu-img convert fails, it never copies zeros', async () => {
      const server = await startServe(job, ['-r', id, '--listen', '127.0.0.1:0']);
      try {
        const client = await RawNbd.open(server.uri);
        await client.handshake();
        client.request(7, BigInt(punched - 64 * 1024), 3 * 64 * 1024, 1n);
        const reply = await client.chunk();
        assert.equal(reply.type, REPLY_TYPE_BLOCK_STATUS);
        const descriptors = descriptorsOf(reply.payload);
        assert.deepEqual(descriptors, [[3 * 64 * 1024, 0]], 'the recorded data around 5 MiB, with no hole');
        client.request(0, BigInt(punched), 4096, 2n);
        const read = await client.chunk();
        assert.equal(read.type, REPLY_TYPE_ERROR_OFFSET, 'an error chunk, not data');
        client.close();
        const convert = runTool('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', server.uri, join(dir, 'converted.img')]);
        assert.notEqual(convert.status, 0, 'qemu-img convert succeeded with zeros where the revision has data');
      } finally {
        assert.equal(await server.stop(), 0);
      }
      // The server noted what it found: no backup takes the revision for a parent now.
      assert.equal(readRevisionYaml(job, id).trust, 'distrusted');
      assert.match(backy(['-b', job, 'status']).stdout, new RegExp(`${id} \\|.*\\[distrusted\\] \\|`));
    });

    test('--writable: the overlay reports it as data too, written over or not', async () => {
      const overlayDir = mkdtempSync(join(dir, 'tmp-'));
      const server = await startServe(job, ['-r', id, '--listen', '127.0.0.1:0', '--writable'], { ...process.env, TMPDIR: overlayDir });
      try {
        const write = runTool('qemu-io', ['-f', 'raw', '-c', 'write -P 0xab 2097152 8192', server.uri]);
        assert.equal(write.status, 0, write.stdout + write.stderr);
        const client = await RawNbd.open(server.uri);
        await client.handshake();
        client.request(7, BigInt(2 * MiB), 4 * MiB, 1n);
        const reply = await client.chunk();
        const descriptors = descriptorsOf(reply.payload);
        assert.deepEqual(descriptors, [[8192, 0], [2 * MiB - 8192, 3], [2 * MiB, 0]], 'written, hole, then the recorded data from 4 MiB');
        client.close();
        const convert = runTool('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', server.uri, join(dir, 'converted-overlay.img')]);
        assert.notEqual(convert.status, 0, 'qemu-img convert succeeded with zeros where the revision has data');
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });
  });
});
