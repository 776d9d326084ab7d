const DEFAULT_READ_AHEAD = 8 * 1024 * 1024;

/**
 * Reads exact byte counts from a stream of chunks (a child's stdout), with
 * the position in the stream for error messages. It keeps reading ahead,
 * up to a bound, while the caller works on what it got — so the producer
 * (rbd) is not stalled by a full pipe meanwhile — and memory stays bounded.
 */
export class ByteReader {
  private pending: Buffer = Buffer.alloc(0);
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private consumed = 0;
  private ended = false;
  private failure: { error: unknown } | null = null;
  private wakeReader: (() => void) | null = null;
  private wakePump: (() => void) | null = null;

  constructor(
    source: AsyncIterable<Buffer | string>,
    private readonly readAhead = DEFAULT_READ_AHEAD,
  ) {
    void this.pump(source);
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
    return out.subarray(0, await this.readInto(out, length));
  }

  /**
   * Fills `target` with up to `length` bytes (fewer only at the end of the
   * stream) and returns the count: for callers that reuse their buffers.
   */
  async readInto(target: Buffer, length: number): Promise<number> {
    let done = 0;
    while (done < length && (await this.fill())) {
      const piece = this.take(Math.min(length - done, this.pending.length));
      piece.copy(target, done);
      done += piece.length;
    }
    return done;
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
      const next = this.queue.shift();
      if (next) {
        this.pending = next;
        this.queued -= next.length;
        this.wakePump?.();
        continue;
      }
      if (this.failure) throw this.failure.error;
      if (this.ended) return false;
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
    }
    return true;
  }

  private async pump(source: AsyncIterable<Buffer | string>): Promise<void> {
    try {
      for await (const chunk of source) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        this.queue.push(bytes);
        this.queued += bytes.length;
        this.wake();
        while (this.queued >= this.readAhead) await new Promise<void>((resolve) => (this.wakePump = resolve));
      }
    } catch (error) {
      this.failure = { error };
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  private wake(): void {
    const wake = this.wakeReader;
    this.wakeReader = null;
    wake?.();
  }
}
