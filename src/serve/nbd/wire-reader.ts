import type { Socket } from 'node:net';

/** The client closed the connection (or it broke) before sending what was awaited. */
export class ConnectionClosed extends Error {
  constructor() {
    super('the client closed the connection');
  }
}

/** Bytes held from the socket before it is paused: what the next message needs, or this much. */
const HIGH_WATER = 256 * 1024;

/**
 * Exact-length reads from a socket, for a protocol whose messages say how
 * long they are. It buffers only what the current read needs (or a little
 * read-ahead): past that the socket is paused, so a client that sends
 * faster than the server works is held back by TCP, never by memory here.
 */
export class WireReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiting: { length: number; resolve(): void } | null = null;
  private closed: Error | null = null;

  constructor(private readonly socket: Socket) {
    socket.on('data', (data: Buffer) => {
      this.chunks.push(data);
      this.buffered += data.length;
      if (this.buffered >= Math.max(HIGH_WATER, this.waiting?.length ?? 0)) socket.pause();
      this.wake();
    });
    const close = () => {
      this.closed ??= new ConnectionClosed();
      this.wake();
    };
    socket.on('end', close);
    socket.on('close', close);
    socket.on('error', close);
  }

  /** Ends every read, waiting or to come, with ConnectionClosed: the server stops listening to this client. */
  cancel(): void {
    this.closed ??= new ConnectionClosed();
    this.wake();
  }

  /** The next `length` bytes as one buffer (small messages: headers, options). */
  async read(length: number): Promise<Buffer> {
    await this.fill(length);
    const out = Buffer.allocUnsafe(length);
    this.take(out, length);
    return out;
  }

  /** The next `length` bytes copied into `target` (a write's payload, into pooled memory). */
  async readInto(target: Buffer, length: number): Promise<void> {
    for (let done = 0; done < length; ) {
      await this.fill(1);
      done += this.take(target.subarray(done), Math.min(length - done, this.buffered));
    }
  }

  /** Reads past the next `length` bytes without keeping them (a refused write's payload). */
  async skip(length: number): Promise<void> {
    for (let done = 0; done < length; ) {
      await this.fill(1);
      done += this.take(null, Math.min(length - done, this.buffered));
    }
  }

  async u32(): Promise<number> {
    return (await this.read(4)).readUInt32BE(0);
  }

  private async fill(length: number): Promise<void> {
    while (this.buffered < length) {
      if (this.closed) throw this.closed;
      await new Promise<void>((resolve) => {
        this.waiting = { length, resolve };
        this.socket.resume();
      });
    }
  }

  /** Moves up to `length` buffered bytes into `target` (or drops them); how many it moved. */
  private take(target: Buffer | null, length: number): number {
    let done = 0;
    while (done < length) {
      const head = this.chunks[0]!;
      const count = Math.min(head.length, length - done);
      if (target) head.copy(target, done, 0, count);
      done += count;
      if (count === head.length) this.chunks.shift();
      else this.chunks[0] = head.subarray(count);
    }
    this.buffered -= done;
    if (this.buffered < HIGH_WATER && !this.closed) this.socket.resume();
    return done;
  }

  private wake(): void {
    const waiting = this.waiting;
    if (!waiting) return;
    if (this.buffered >= waiting.length || this.closed) {
      this.waiting = null;
      waiting.resolve();
    }
  }
}
