/**
 * What one client can hold against all the others: pool buffers, its
 * place among the clients, the server's shutdown. An NbdServer in this
 * process over an image in memory, with short limits, so that every
 * limit is reached in the test.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool } from '../../src/serve/buffer-pool.js';
import type { ExportedImage, Piece } from '../../src/serve/exported-image.js';
import { MAXIMUM_PAYLOAD, MINIMUM_BLOCK, transmissionFlags } from '../../src/serve/nbd/export-flags.js';
import type { SessionLimits } from '../../src/serve/nbd/limits.js';
import { NbdServer } from '../../src/serve/nbd/server.js';
import { silentLogger } from '../../src/util/logger.js';
import { RawNbd, u32 } from '../helpers/nbd-wire.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;

/** Every byte is its offset's low byte. */
function memoryImage(writable: boolean): ExportedImage {
  return {
    size: SIZE,
    writable,
    window: MiB,
    readWindow(offset: number, length: number, buffer: Buffer): Promise<Piece[]> {
      const windowStart = Math.floor(offset / MiB) * MiB;
      const data = buffer.subarray(offset - windowStart, offset - windowStart + length);
      for (let i = 0; i < length; i++) data[i] = (offset + i) & 0xff;
      return Promise.resolve([{ offset, length, data }]);
    },
    extents: (_offset, length) => Promise.resolve([{ length, hole: false }]),
    write: () => Promise.resolve(),
    zero: () => Promise.resolve(),
    flush: () => Promise.resolve(),
  };
}

/** Long enough never to be reached unless the test means it to be. */
const NEVER = 600_000;

describe('NbdServer limits', () => {
  let server: NbdServer | null = null;
  const clients: RawNbd[] = [];
  const warnings: string[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await server?.close();
    server = null;
    warnings.splice(0);
  });

  /** Waits (30 s at most) until the server has logged `count` warnings that match. */
  async function logged(pattern: RegExp, count: number): Promise<void> {
    for (let waited = 0; warnings.filter((w) => pattern.test(w)).length < count; waited += 100) {
      assert.ok(waited < 30_000, `${count} warnings matching ${pattern} expected; the server logged: ${warnings.join('; ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function start(limits: Partial<SessionLimits>, writable = false): Promise<string> {
    server = new NbdServer({
      image: memoryImage(writable),
      pool: new BufferPool(MiB, 8),
      logger: { ...silentLogger, warn: (message: string) => warnings.push(message) },
      limits: { handshakeMs: NEVER, stalledMs: NEVER, payloadMs: NEVER, closeGraceMs: NEVER, ...limits },
      description: {
        name: 'test',
        description: 'an image in memory',
        size: SIZE,
        transmissionFlags: transmissionFlags(writable),
        minimumBlock: MINIMUM_BLOCK,
        preferredBlock: 64 * 1024,
        maximumPayload: MAXIMUM_PAYLOAD,
      },
    });
    return server.listen({ host: '127.0.0.1', port: 0 });
  }

  async function connected(uri: string): Promise<RawNbd> {
    const client = await RawNbd.open(uri);
    clients.push(client);
    await client.handshake();
    return client;
  }

  /** A 4 KiB read at 1 MiB + 7, answered with the image's bytes. */
  async function readsItsBytes(client: RawNbd): Promise<void> {
    client.request(0, BigInt(MiB + 7), 4096, 77n);
    const reply = await client.chunk();
    assert.equal(reply.cookie, 77n);
    assert.equal(reply.type, 1, 'an offset data chunk');
    const data = reply.payload.subarray(8);
    assert.equal(data.length, 4096);
    for (let i = 0; i < data.length; i++) assert.equal(data[i], (MiB + 7 + i) & 0xff);
  }

  /** Eight clients, each in the middle of a 1 MiB write whose payload stops after its first byte. */
  async function stuckWriters(uri: string): Promise<RawNbd[]> {
    const writers: RawNbd[] = [];
    for (let i = 0; i < 8; i++) {
      const client = await connected(uri);
      client.request(1, 0n, MiB, 1n);
      client.send(Buffer.from('x'));
      writers.push(client);
    }
    return writers;
  }

  /** Sixteen reads of 8 MiB whose replies it never reads. */
  async function hog(uri: string): Promise<RawNbd> {
    const client = await connected(uri);
    client.stopReading();
    for (let k = 0; k < 16; k++) client.request(0, BigInt(k * MiB), 8 * MiB, BigInt(k + 1));
    return client;
  }

  test('clients that never read their replies leave pool buffers to the others, and are disconnected', async () => {
    const uri = await start({ stalledMs: 2000 });
    const hogs = [await hog(uri), await hog(uri), await hog(uri)];
    await readsItsBytes(await connected(uri));
    // A paused client cannot see the hang-up until it reads, and once it reads it is no longer stalled.
    await logged(/read none of its replies/, hogs.length);
    for (const client of hogs) assert.equal(await client.hungUpWhileDrained(30_000), true, 'a client that reads nothing stays connected');
  });

  test('a shutdown ends with a client that never reads its replies', async () => {
    const uri = await start({ closeGraceMs: 1000 });
    const client = await hog(uri);
    await readsItsBytes(await connected(uri));
    await server!.close();
    server = null;
    assert.equal(await client.hungUpWhileDrained(30_000), true);
  });

  test('writes refused on a read-only export, their payloads not sent, block no reads; a payload has a deadline', async () => {
    const uri = await start({ payloadMs: 2000 });
    const writers = await stuckWriters(uri);
    await readsItsBytes(await connected(uri));
    for (const client of writers) assert.equal(await client.hungUp(30_000), true, 'a payload that never arrives holds its connection');
  });

  test('writes taken by a writable export: a payload that never arrives is a hang-up, and frees its buffer', async () => {
    const uri = await start({ payloadMs: 2000 }, true);
    const writers = await stuckWriters(uri);
    for (const client of writers) assert.equal(await client.hungUp(30_000), true);
    await readsItsBytes(await connected(uri));
  });

  test('the handshake has a deadline, however the bytes trickle in', async () => {
    const uri = await start({ handshakeMs: 1500 });
    const client = await RawNbd.open(uri);
    clients.push(client);
    // Client flags and an NBD_OPT_LIST, a byte every 200 ms: never idle for long, never done.
    const bytes = Buffer.concat([u32(3), Buffer.from('IHAVEOPT'), u32(3), u32(0)]);
    for (const byte of bytes) {
      if (client.closed) break;
      client.send(Buffer.from([byte]));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(await client.hungUp(30_000), true, 'a handshake longer than its limit goes on');
  });
});
