/**
 * What a client can make the server do with lengths and counts of its
 * own choosing: every one is bounded, answered with an error or a hang-up,
 * and the server goes on serving everybody else.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawNbd, u16, u32 } from '../helpers/nbd-wire.js';
import { IMAGE_SIZE, jobWithRevision, runTool, startServe, writeTestImage, type ServeProcess } from '../helpers/serve-process.js';

const NBD_EINVAL = 22;
const REP_ERR_INVALID = 0x80000003;
const REP_ERR_UNKNOWN = 0x80000006;
const REPLY_TYPE_ERROR = 0x8001;
const REPLY_TYPE_BLOCK_STATUS = 5;

describe('backy serve and a hostile client', () => {
  let dir = '';
  let server: ServeProcess;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'backy-hostile-'));
    writeTestImage(join(dir, 'source.img'));
    const job = join(dir, 'job');
    jobWithRevision(job, join(dir, 'source.img'), 'cow');
    server = await startServe(job, ['--listen', '127.0.0.1:0']);
  });
  after(async () => {
    assert.equal(await server.stop(), 0);
    rmSync(dir, { recursive: true, force: true });
  });

  /** After every abuse, a real client still gets the export. */
  const stillServes = () => assert.equal(runTool('nbdinfo', ['--size', server.uri]).stdout.trim(), String(IMAGE_SIZE));

  test('an option claiming 4 GiB of data is a hang-up, not an allocation', async () => {
    const client = await RawNbd.open(server.uri);
    client.send(u32(3));
    client.option(3, Buffer.alloc(0), 0xffffffff);
    assert.equal(await client.hungUp(), true);
    stillServes();
  });

  test('unknown client flags are a hang-up', async () => {
    const client = await RawNbd.open(server.uri);
    client.send(u32(0x80));
    assert.equal(await client.hungUp(), true);
  });

  test('a meta context request whose counts and lengths lie is refused, and the handshake goes on', async () => {
    const client = await RawNbd.open(server.uri);
    client.send(u32(3));
    client.option(8);
    assert.equal((await client.optionReply()).type, 1);
    // 4 billion queries promised in a 12-byte option; then a query longer than the option.
    client.option(10, Buffer.concat([u32(0), u32(0xffffffff), u32(0)]));
    assert.equal((await client.optionReply()).type, REP_ERR_INVALID);
    client.option(10, Buffer.concat([u32(0), u32(1), u32(0xfffffff0)]));
    assert.equal((await client.optionReply()).type, REP_ERR_INVALID);
    // An export name longer than the option.
    client.option(7, Buffer.concat([u32(0xffffff00), u16(0)]));
    assert.equal((await client.optionReply()).type, REP_ERR_INVALID);
    client.option(3);
    assert.equal((await client.optionReply()).option, 3);
    client.close();
  });

  test('an unknown export name of 4 KiB is echoed in a few bytes, not escaped in full (24 KiB a reply)', async () => {
    const client = await RawNbd.open(server.uri);
    client.send(u32(3));
    const name = Buffer.alloc(4096, 1);
    client.option(7, Buffer.concat([u32(name.length), name, u16(0)]));
    const reply = await client.optionReply();
    assert.equal(reply.type, REP_ERR_UNKNOWN);
    assert.match(reply.data.toString('latin1'), /^no export named "(\\u0001)+\.\.\."; this server exports "/);
    assert.ok(reply.data.length < 200, `a reply of ${reply.data.length} bytes`);
    client.close();
  });

  test('endless options end the session', async () => {
    const client = await RawNbd.open(server.uri);
    client.send(u32(3));
    for (let i = 0; i < 1100; i++) client.option(99);
    assert.equal(await client.hungUp(), true);
    stillServes();
  });

  test('reads and status queries out of range or too long get errors; a huge status query gets few extents', async () => {
    const client = await RawNbd.open(server.uri);
    await client.handshake();
    client.request(0, 0n, 0x7fffffff, 1n);
    let reply = await client.chunk();
    assert.equal(reply.type, REPLY_TYPE_ERROR);
    assert.equal(reply.payload.readUInt32BE(0), NBD_EINVAL, 'a 2 GiB read of a 24 MiB export');
    client.request(0, BigInt(IMAGE_SIZE), 512, 2n);
    reply = await client.chunk();
    assert.equal(reply.payload.readUInt32BE(0), NBD_EINVAL);
    client.request(0, 0xfffffffffffffe00n, 512, 3n);
    reply = await client.chunk();
    assert.equal(reply.payload.readUInt32BE(0), NBD_EINVAL);
    client.request(7, 0n, 0xffffffff, 4n);
    reply = await client.chunk();
    assert.equal(reply.payload.readUInt32BE(0), NBD_EINVAL, 'status beyond the end of the export');
    client.request(7, 0n, IMAGE_SIZE, 5n);
    reply = await client.chunk();
    assert.equal(reply.type, REPLY_TYPE_BLOCK_STATUS);
    assert.equal(reply.cookie, 5n);
    assert.equal((reply.payload.length - 4) / 8, 5, 'one descriptor per data region and hole');
    client.request(99, 0n, 0, 6n);
    reply = await client.chunk();
    assert.equal(reply.payload.readUInt32BE(0), NBD_EINVAL, 'an unknown command');
    client.request(0, 0n, 512, 7n, 0x80);
    reply = await client.chunk();
    assert.equal(reply.payload.readUInt32BE(0), NBD_EINVAL, 'an unknown flag');
    client.close();
  });

  test('a write longer than the maximum payload is a hang-up (its payload is never buffered)', async () => {
    const client = await RawNbd.open(server.uri);
    await client.handshake();
    client.request(1, 0n, 0xfffffff0);
    assert.equal(await client.hungUp(), true);
    stillServes();
  });
});
