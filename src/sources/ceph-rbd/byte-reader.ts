/**
 * Reads exact byte counts from a stream of chunks (a child's stdout), with
 * the position in the stream for error messages. Holds at most one pending
 * chunk, so memory stays bounded by what the caller asks for at once.
 */
export class ByteReader {
  private pending: Buffer = Buffer.alloc(0);
  private consumed = 0;
  private ended = false;
  private readonly chunks: AsyncIterator<Buffer | string>;

  constructor(source: AsyncIterable<Buffer | string>) {
    this.chunks = source[Symbol.asyncIterator]();
  }

  /** Bytes handed out so far: the offset of the next byte in the stream. */
  get position(): number {
    return this.consumed;
  }

  /** True when the stream has no more bytes. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }

  /**
   * Exactly `length` bytes (copied when they span chunks), or fewer when the
   * stream ends first: the caller decides whether that is an error.
   */
  async read(length: number): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    if (!(await this.fill())) return Buffer.alloc(0);
    if (this.pending.length >= length) return this.take(length);
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length && (await this.fill())) {
      const piece = this.take(Math.min(length - done, this.pending.length));
      piece.copy(out, done);
      done += piece.length;
    }
    return out.subarray(0, done);
  }

  /**
   * Up to `max` bytes without copying: whatever the current chunk holds.
   * Empty only at the end of the stream.
   */
  async readSome(max: number): Promise<Buffer> {
    if (!(await this.fill())) return Buffer.alloc(0);
    return this.take(Math.min(max, this.pending.length));
  }

  private take(length: number): Buffer {
    const piece = this.pending.subarray(0, length);
    this.pending = this.pending.subarray(length);
    this.consumed += length;
    return piece;
  }

  private async fill(): Promise<boolean> {
    while (this.pending.length === 0) {
      if (this.ended) return false;
      const next = await this.chunks.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      this.pending = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    }
    return true;
  }
}
