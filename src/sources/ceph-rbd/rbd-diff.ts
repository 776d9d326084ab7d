import { BackyError } from '../../util/errors.js';
import { ByteReader } from './byte-reader.js';

/**
 * The `rbd export-diff` stream formats, parsed strictly and in a streaming
 * fashion (Ceph's doc/dev/rbd-diff.rst). All integers are little-endian.
 *
 *   banner  "rbd diff v1\n" | "rbd diff v2\n"
 *   record  tag (1 byte), in v2 followed by the u64 length of the rest
 *           of the record (all tags but `e`), then:
 *     f  from-snapshot name: u32 length + bytes
 *     t  to-snapshot name:   u32 length + bytes
 *     s  image size: u64
 *     w  updated data: u64 offset, u64 length, data
 *     z  zeroed data:  u64 offset, u64 length
 *     p  (v2 only) whether the to-snapshot is protected: u8 0 or 1;
 *        Ceph declares its length as 8, so 1 and 8 are both accepted
 *     e  end of the stream (nothing may follow)
 *
 * Metadata records (`f`, `t`, `s`) come at most once each, before any
 * data; data must lie within the size. Anything else is an error naming
 * the byte offset in the stream where it was found.
 */

export const RBD_DIFF_V1_BANNER = 'rbd diff v1\n';
export const RBD_DIFF_V2_BANNER = 'rbd diff v2\n';

/** Receives a stream's content in order; each call is awaited (backpressure). */
export interface RbdDiffHandler {
  /** The image's size at the `to` snapshot; comes before any data. */
  size(size: number): Promise<void>;
  /**
   * New content at `offset`. Large records arrive as several chunks; the
   * buffer is reused after the promise settles, so do not keep it.
   */
  data(offset: number, data: Buffer): Promise<void>;
  /** [offset, offset + length) reads as zeros now. */
  zero(offset: number, length: number): Promise<void>;
}

export interface RbdDiffSummary {
  format: 1 | 2;
  fromSnapshot: string | null;
  toSnapshot: string | null;
  /** From a v2 `p` record; null when the stream has none. */
  toSnapshotProtected: boolean | null;
  size: number;
  /** Number of `w` and `z` records. */
  dataRecords: number;
  zeroRecords: number;
  dataBytes: number;
  zeroBytes: number;
  /** Length of the whole stream. */
  streamBytes: number;
}

/** A malformed or cut-off diff stream. */
export class RbdDiffFormatError extends BackyError {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`invalid rbd diff stream at byte ${position}: ${message}`);
    this.name = 'RbdDiffFormatError';
  }
}

/** Snapshot names are short in practice; this only bounds a bad length field. */
const MAX_NAME_LENGTH = 4096;
const DEFAULT_CHUNK = 4 * 1024 * 1024;

export async function parseRbdDiff(
  source: AsyncIterable<Buffer | string>,
  handler: RbdDiffHandler,
  options: { maxChunk?: number } = {},
): Promise<RbdDiffSummary> {
  const parser = new DiffParser(new ByteReader(source), handler, options.maxChunk ?? DEFAULT_CHUNK);
  return parser.run();
}

class DiffParser {
  private format: 1 | 2 = 1;
  private fromSnapshot: string | null = null;
  private toSnapshot: string | null = null;
  private toSnapshotProtected: boolean | null = null;
  private size: number | null = null;
  private seenData = false;
  private readonly summary = { dataRecords: 0, zeroRecords: 0, dataBytes: 0, zeroBytes: 0 };
  private chunk: Buffer | null = null;

  constructor(
    private readonly reader: ByteReader,
    private readonly handler: RbdDiffHandler,
    private readonly maxChunk: number,
  ) {}

  async run(): Promise<RbdDiffSummary> {
    await this.readBanner();
    for (;;) {
      const at = this.reader.position;
      const tagByte = await this.reader.read(1);
      if (tagByte.length === 0) throw new RbdDiffFormatError('the stream ended without an end record (cut off?)', at);
      const tag = String.fromCharCode(tagByte[0]!);
      if (tag === 'e') {
        if (!(await this.reader.atEnd())) throw new RbdDiffFormatError('unexpected data after the end record', this.reader.position);
        if (this.size === null) throw new RbdDiffFormatError('the stream has no size record', at);
        return {
          format: this.format,
          fromSnapshot: this.fromSnapshot,
          toSnapshot: this.toSnapshot,
          toSnapshotProtected: this.toSnapshotProtected,
          size: this.size,
          ...this.summary,
          streamBytes: this.reader.position,
        };
      }
      const recordLength = this.format === 2 && 'ftswzp'.includes(tag) ? await this.u64(`the length of the ${tag} record`) : null;
      const bodyStart = this.reader.position;
      await this.record(tag, at);
      const quirk = tag === 'p' && recordLength === 8;
      if (recordLength !== null && !quirk && this.reader.position - bodyStart !== recordLength) {
        throw new RbdDiffFormatError(
          `the ${tag} record declares ${recordLength} bytes but holds ${this.reader.position - bodyStart}`,
          bodyStart - 8,
        );
      }
    }
  }

  private async readBanner(): Promise<void> {
    const banner = await this.reader.read(RBD_DIFF_V1_BANNER.length);
    const text = banner.toString('latin1');
    if (text === RBD_DIFF_V1_BANNER) this.format = 1;
    else if (text === RBD_DIFF_V2_BANNER) this.format = 2;
    else if (banner.length === 0) throw new RbdDiffFormatError('the stream is empty', 0);
    else if (banner.length < RBD_DIFF_V1_BANNER.length && RBD_DIFF_V1_BANNER.startsWith(text.slice(0, 9))) {
      throw new RbdDiffFormatError(`the stream ended after ${banner.length} bytes, inside the banner (cut off?)`, 0);
    } else {
      throw new RbdDiffFormatError(`not an rbd diff stream: it starts with ${JSON.stringify(text)}, not "rbd diff v1\\n" or "rbd diff v2\\n"`, 0);
    }
  }

  private async record(tag: string, at: number): Promise<void> {
    switch (tag) {
      case 'f':
      case 't': {
        this.expectMetadata(tag, at, tag === 'f' ? this.fromSnapshot : this.toSnapshot);
        const name = await this.name(tag === 'f' ? 'from-snapshot' : 'to-snapshot');
        if (tag === 'f') this.fromSnapshot = name;
        else this.toSnapshot = name;
        return;
      }
      case 'p': {
        if (this.format !== 2) break; // unknown in v1
        this.expectMetadata(tag, at, this.toSnapshotProtected);
        const flag = await this.exact(1, 'the protection status');
        if (flag[0]! > 1) throw new RbdDiffFormatError(`protection status ${flag[0]} is neither 0 nor 1`, at + 9);
        this.toSnapshotProtected = flag[0] === 1;
        return;
      }
      case 's': {
        this.expectMetadata(tag, at, this.size);
        const size = await this.u64('the image size');
        this.size = size;
        await this.handler.size(size);
        return;
      }
      case 'w':
      case 'z': {
        const [offset, length] = await this.extent(tag, at);
        if (tag === 'z') {
          this.summary.zeroRecords += 1;
          this.summary.zeroBytes += length;
          await this.handler.zero(offset, length);
        } else {
          this.summary.dataRecords += 1;
          this.summary.dataBytes += length;
          await this.data(offset, length);
        }
        return;
      }
    }
    // Unknown tags, and `p` in v1.
    throw new RbdDiffFormatError(`unknown record type 0x${tag.charCodeAt(0).toString(16).padStart(2, '0')} (${JSON.stringify(tag)})`, at);
  }

  private expectMetadata(tag: string, at: number, previous: unknown): void {
    if (this.seenData) throw new RbdDiffFormatError(`${tag} record after data records`, at);
    if (previous !== null) throw new RbdDiffFormatError(`second ${tag} record`, at);
  }

  private async extent(tag: string, at: number): Promise<[number, number]> {
    this.seenData = true;
    const offset = await this.u64(`the offset of the ${tag} record`);
    const length = await this.u64(`the length of the ${tag} record`);
    if (this.size === null) throw new RbdDiffFormatError(`${tag} record before the size record`, at);
    if (offset + length > this.size) {
      throw new RbdDiffFormatError(`${tag} record for bytes ${offset}..${offset + length} beyond the image size ${this.size}`, at);
    }
    return [offset, length];
  }

  /** Streams a `w` record's data to the handler in chunks aligned to `maxChunk`. */
  private async data(offset: number, length: number): Promise<void> {
    const end = offset + length;
    let at = offset;
    while (at < end) {
      const chunkEnd = Math.min(end, (Math.floor(at / this.maxChunk) + 1) * this.maxChunk);
      const wanted = chunkEnd - at;
      let piece = await this.reader.readSome(wanted);
      if (piece.length < wanted && piece.length > 0) {
        // Gather a full chunk: the writer compares whole blocks far faster.
        this.chunk ??= Buffer.allocUnsafe(this.maxChunk);
        piece.copy(this.chunk, 0);
        let filled = piece.length;
        while (filled < wanted) {
          const more = await this.reader.readSome(wanted - filled);
          if (more.length === 0) break;
          more.copy(this.chunk, filled);
          filled += more.length;
        }
        piece = this.chunk.subarray(0, filled);
      }
      if (piece.length < wanted) {
        throw new RbdDiffFormatError(
          `the stream ended inside the data of a w record (${at + piece.length - offset} of ${length} bytes; cut off?)`,
          this.reader.position,
        );
      }
      await this.handler.data(at, piece);
      at = chunkEnd;
    }
  }

  private async name(what: string): Promise<string> {
    const length = await this.u32(`the length of the ${what} name`);
    if (length > MAX_NAME_LENGTH) {
      throw new RbdDiffFormatError(`${what} name length ${length} exceeds ${MAX_NAME_LENGTH}`, this.reader.position - 4);
    }
    return (await this.exact(length, `the ${what} name`)).toString('utf8');
  }

  private async u32(what: string): Promise<number> {
    return (await this.exact(4, what)).readUInt32LE(0);
  }

  private async u64(what: string): Promise<number> {
    const at = this.reader.position;
    const value = (await this.exact(8, what)).readBigUInt64LE(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RbdDiffFormatError(`${what} ${value} is implausibly large`, at);
    return Number(value);
  }

  private async exact(length: number, what: string): Promise<Buffer> {
    const at = this.reader.position;
    const bytes = await this.reader.read(length);
    if (bytes.length < length) {
      throw new RbdDiffFormatError(`the stream ended inside ${what} (${bytes.length} of ${length} bytes; cut off?)`, at);
    }
    return bytes;
  }
}
