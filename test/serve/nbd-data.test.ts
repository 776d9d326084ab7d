/**
 * What a client reads is the revision's bytes or an error, never other
 * bytes: replies do not mix, and status queries do not call data zeros.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawNbd, u16, u32 } from '../helpers/nbd-wire.js';
import { MiB, jobWithRevision, startServe, writeTestImage } from '../helpers/serve-process.js';

const SIMPLE_REPLY_MAGIC = 0x67446698;
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
});
