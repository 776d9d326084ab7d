import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRbdDiff, RbdDiffFormatError, type RbdDiffHandler } from './rbd-diff.js';

/** Builds diff streams by hand, record by record, in either format. */
class DiffBuilder {
  private readonly parts: Buffer[] = [];

  constructor(private readonly format: 1 | 2) {
    this.parts.push(Buffer.from(`rbd diff v${format}\n`, 'latin1'));
  }

  raw(bytes: Buffer | string): this {
    this.parts.push(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
    return this;
  }

  record(tag: string, body: Buffer, declaredLength = body.length): this {
    this.raw(tag);
    if (this.format === 2) this.raw(u64(declaredLength));
    return this.raw(body);
  }

  from(name: string): this {
    return this.record('f', Buffer.concat([u32(Buffer.byteLength(name)), Buffer.from(name)]));
  }

  to(name: string): this {
    return this.record('t', Buffer.concat([u32(Buffer.byteLength(name)), Buffer.from(name)]));
  }

  size(size: number): this {
    return this.record('s', u64(size));
  }

  write(offset: number, data: Buffer): this {
    return this.record('w', Buffer.concat([u64(offset), u64(data.length), data]));
  }

  zero(offset: number, length: number): this {
    return this.record('z', Buffer.concat([u64(offset), u64(length)]));
  }

  /** v2 only; Ceph declares the one-byte body as 8 bytes long. */
  protection(isProtected: boolean, declaredLength = 8): this {
    return this.record('p', Buffer.from([isProtected ? 1 : 0]), declaredLength);
  }

  end(): this {
    return this.raw('e');
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return b;
}

function u64(value: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(value));
  return b;
}

/** Delivers `bytes` in pieces of `piece` bytes, as a pipe would. */
async function* pieces(bytes: Buffer, piece: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += piece) yield bytes.subarray(at, at + piece);
}

type Event = ['size', number] | ['data', number, Buffer] | ['zero', number, number];

function recorder(): { events: Event[]; handler: RbdDiffHandler } {
  const events: Event[] = [];
  return {
    events,
    handler: {
      size: async (size) => void events.push(['size', size]),
      // Copied: the parser may reuse the buffer.
      data: async (offset, data) => void events.push(['data', offset, Buffer.from(data)]),
      zero: async (offset, length) => void events.push(['zero', offset, length]),
    },
  };
}

async function parseError(bytes: Buffer): Promise<RbdDiffFormatError> {
  const { handler } = recorder();
  const err = await parseRbdDiff(pieces(bytes, 7), handler).then(
    () => assert.fail('expected the stream to be rejected'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RbdDiffFormatError, `expected RbdDiffFormatError, got ${String(err)}`);
  return err;
}

const payload = Buffer.from('0123456789abcdef'.repeat(64));

for (const format of [1, 2] as const) {
  describe(`rbd diff v${format}`, () => {
    it('reports metadata, size, data and zero records in stream order', async () => {
      const stream = new DiffBuilder(format).from('backy-A').to('backy-B').size(1 << 20).write(4096, payload).zero(65536, 8192).end().bytes();
      const { events, handler } = recorder();
      const summary = await parseRbdDiff(pieces(stream, 5), handler);
      assert.deepEqual(events, [
        ['size', 1 << 20],
        ['data', 4096, payload],
        ['zero', 65536, 8192],
      ]);
      assert.deepEqual(summary, {
        format,
        fromSnapshot: 'backy-A',
        toSnapshot: 'backy-B',
        toSnapshotProtected: null,
        size: 1 << 20,
        dataRecords: 1,
        zeroRecords: 1,
        dataBytes: payload.length,
        zeroBytes: 8192,
        streamBytes: stream.length,
      });
    });

    it('accepts a stream without from-snapshot (a diff from the image creation)', async () => {
      const stream = new DiffBuilder(format).to('s1').size(4096).write(0, payload).end().bytes();
      const summary = await parseRbdDiff(pieces(stream, 1), recorder().handler);
      assert.equal(summary.fromSnapshot, null);
      assert.equal(summary.toSnapshot, 's1');
    });

    it('splits a large data record into chunks aligned to the chunk size, whatever the pipe delivers', async () => {
      const big = Buffer.alloc(300_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 9)) & 0xff;
      const offset = 100_000;
      const stream = new DiffBuilder(format).size(1 << 20).write(offset, big).end().bytes();
      for (const piece of [1000, 65536, stream.length]) {
        const { events, handler } = recorder();
        await parseRbdDiff(pieces(stream, piece), handler, { maxChunk: 65536 });
        const data = events.filter((e) => e[0] === 'data') as Array<['data', number, Buffer]>;
        assert.deepEqual(
          data.map(([, at, bytes]) => [at, bytes.length]),
          [
            [100_000, 31_072],
            [131_072, 65_536],
            [196_608, 65_536],
            [262_144, 65_536],
            [327_680, 65_536],
            [393_216, 6_784],
          ],
          `pipe pieces of ${piece}`,
        );
        assert.deepEqual(Buffer.concat(data.map(([, , bytes]) => bytes)), big);
      }
    });

    it('accepts empty data records and an image of size zero', async () => {
      const { events, handler } = recorder();
      await parseRbdDiff(pieces(new DiffBuilder(format).size(0).write(0, Buffer.alloc(0)).zero(0, 0).end().bytes(), 3), handler);
      assert.deepEqual(events, [['size', 0], ['zero', 0, 0]]);
    });

    it('rejects a stream cut off after a record, naming where it ended', async () => {
      const stream = new DiffBuilder(format).size(8192).write(0, payload).bytes();
      const err = await parseError(stream);
      assert.equal(err.position, stream.length);
      assert.match(err.message, new RegExp(`^invalid rbd diff stream at byte ${stream.length}: the stream ended without an end record \\(cut off\\?\\)$`));
    });

    it('rejects a stream cut off inside data', async () => {
      const stream = new DiffBuilder(format).size(8192).write(0, payload).end().bytes();
      const err = await parseError(stream.subarray(0, stream.length - 100));
      assert.match(err.message, /ended inside the data of a w record \(925 of 1024 bytes; cut off\?\)/);
      assert.equal(err.position, stream.length - 100);
    });

    it('rejects a stream cut off inside a number', async () => {
      const stream = new DiffBuilder(format).size(8192).bytes();
      const err = await parseError(stream.subarray(0, stream.length - 3));
      assert.match(err.message, /ended inside the image size \(5 of 8 bytes; cut off\?\)/);
    });

    it('rejects an unknown record type, naming its offset', async () => {
      const head = new DiffBuilder(format).size(8192).bytes();
      const err = await parseError(Buffer.concat([head, Buffer.from('x'), u64(0)]));
      assert.equal(err.position, head.length);
      assert.match(err.message, new RegExp(`at byte ${head.length}: unknown record type 0x78 \\("x"\\)`));
    });

    it('rejects bytes after the end record', async () => {
      const stream = new DiffBuilder(format).size(0).end().raw('junk').bytes();
      const err = await parseError(stream);
      assert.equal(err.position, stream.length - 4);
      assert.match(err.message, /unexpected data after the end record/);
    });

    it('rejects data before the size, beyond the size, and metadata after data or twice', async () => {
      assert.match((await parseError(new DiffBuilder(format).write(0, payload).end().bytes())).message, /w record before the size record/);
      assert.match((await parseError(new DiffBuilder(format).size(1000).write(0, payload).end().bytes())).message, /bytes 0\.\.1024 beyond the image size 1000/);
      assert.match((await parseError(new DiffBuilder(format).size(4096).zero(4000, 97).end().bytes())).message, /z record for bytes 4000\.\.4097 beyond/);
      assert.match((await parseError(new DiffBuilder(format).size(4096).zero(0, 1).size(8192).end().bytes())).message, /s record after data records/);
      assert.match((await parseError(new DiffBuilder(format).to('a').to('b').size(1).end().bytes())).message, /second t record/);
      assert.match((await parseError(new DiffBuilder(format).end().bytes())).message, /the stream has no size record/);
    });

    it('rejects absurd numbers', async () => {
      const huge = new DiffBuilder(format).record('s', u64(2n ** 63n)).end().bytes();
      assert.match((await parseError(huge)).message, /the image size 9223372036854775808 is implausibly large/);
      const longName = new DiffBuilder(format).record('f', u32(1 << 30)).bytes();
      assert.match((await parseError(longName)).message, /from-snapshot name length 1073741824 exceeds 4096/);
    });
  });
}

describe('rbd diff banners and v2 record lengths', () => {
  it('rejects other streams by their first bytes', async () => {
    const err = await parseError(Buffer.from('rbd image v2\n'));
    assert.equal(err.position, 0);
    assert.match(err.message, /not an rbd diff stream: it starts with "rbd image v2"/);
    assert.match((await parseError(Buffer.from('rbd diff v3\ne'))).message, /not an rbd diff stream/);
    assert.match((await parseError(Buffer.alloc(0))).message, /at byte 0: the stream is empty$/);
  });

  it('rejects a banner that was cut off', async () => {
    assert.match((await parseError(Buffer.from('rbd diff'))).message, /ended after 8 bytes, inside the banner \(cut off\?\)/);
  });

  it('rejects a v2 record whose declared length does not match its content', async () => {
    const head = new DiffBuilder(2).size(8192).bytes();
    const stream = new DiffBuilder(2).size(8192).record('z', Buffer.concat([u64(0), u64(10)]), 24).end().bytes();
    const err = await parseError(stream);
    assert.equal(err.position, head.length + 1);
    assert.match(err.message, /the z record declares 24 bytes but holds 16/);
  });

  it('reads v1 records without length fields: a v2 stream under a v1 banner fails', async () => {
    const v2 = new DiffBuilder(2).size(8192).end().bytes();
    const relabelled = Buffer.concat([Buffer.from('rbd diff v1\n'), v2.subarray(12)]);
    // v1 reads the length field (8) as the size, then sees the real size's bytes as a tag.
    assert.match((await parseError(relabelled)).message, /unknown record type 0x00/);
  });

  it('reads the v2 protection status as Ceph writes it (length 8, one byte) or with its true length', async () => {
    for (const declared of [8, 1]) {
      const stream = new DiffBuilder(2).from('a').to('b').protection(true, declared).size(4096).write(0, payload).end().bytes();
      const summary = await parseRbdDiff(pieces(stream, 3), recorder().handler);
      assert.equal(summary.toSnapshotProtected, true);
      assert.equal(summary.dataBytes, payload.length);
    }
    const unprotected = new DiffBuilder(2).to('b').protection(false).size(0).end().bytes();
    assert.equal((await parseRbdDiff(pieces(unprotected, 3), recorder().handler)).toSnapshotProtected, false);
  });

  it('rejects a protection status in v1, other than 0 or 1, twice, or of another declared length', async () => {
    const v1 = Buffer.concat([new DiffBuilder(1).size(0).bytes(), Buffer.from('p'), Buffer.from([1])]);
    assert.match((await parseError(v1)).message, /at byte 21: unknown record type 0x70 \("p"\)/);
    assert.match((await parseError(new DiffBuilder(2).record('p', Buffer.from([2]), 8).size(0).end().bytes())).message, /protection status 2 is neither 0 nor 1/);
    assert.match((await parseError(new DiffBuilder(2).protection(true).protection(true).size(0).end().bytes())).message, /second p record/);
    assert.match((await parseError(new DiffBuilder(2).protection(true, 4).size(0).end().bytes())).message, /the p record declares 4 bytes but holds 1/);
  });

  it('passes errors from the handler through unchanged', async () => {
    const stream = new DiffBuilder(1).size(8192).write(0, payload).end().bytes();
    const failure = new Error('disk full');
    await assert.rejects(
      parseRbdDiff(pieces(stream, 100), { size: async () => undefined, zero: async () => undefined, data: async () => Promise.reject(failure) }),
      (err) => err === failure,
    );
  });
});
