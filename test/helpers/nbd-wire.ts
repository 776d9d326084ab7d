/**
 * A raw NBD client for tests that must send what no well-behaved client
 * would: exact bytes out, exact bytes in, and whether the server hung up.
 */
import { connect, type Socket } from 'node:net';

export class RawNbd {
  private data = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private discarding = false;
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      if (this.discarding) return;
      this.data = Buffer.concat([this.data, chunk]);
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  /** Connects to `nbd://HOST:PORT` and reads the server's greeting. */
  static async open(uri: string): Promise<RawNbd> {
    const { hostname, port } = new URL(uri);
    const socket = connect(Number(port), hostname);
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new RawNbd(socket);
    const greeting = await client.read(18);
    if (greeting.subarray(0, 16).toString('latin1') !== 'NBDMAGICIHAVEOPT') throw new Error('not an NBD newstyle greeting');
    return client;
  }

  send(...parts: Buffer[]): void {
    this.socket.write(Buffer.concat(parts));
  }

  /** Exactly `length` bytes; rejects if the server hangs up first. */
  async read(length: number): Promise<Buffer> {
    while (this.data.length < length) {
      if (this.closed) throw new Error(`the server closed the connection (wanted ${length} bytes, had ${this.data.length})`);
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    const out = this.data.subarray(0, length);
    this.data = this.data.subarray(length);
    return out;
  }

  /** Resolves true once the server has closed the connection (false if still open after `ms`). */
  async hungUp(ms = 30_000): Promise<boolean> {
    const started = Date.now();
    while (!this.closed && Date.now() - started < ms) await new Promise<void>((resolve) => {
      this.waiter = resolve;
      setTimeout(resolve, 100);
    });
    return this.closed;
  }

  option(option: number, data: Buffer = Buffer.alloc(0), claimedLength = data.length): void {
    this.send(u64(0x49484156454f5054n), u32(option), u32(claimedLength), data);
  }

  /** One option reply: its type and data. */
  async optionReply(): Promise<{ option: number; type: number; data: Buffer }> {
    const header = await this.read(20);
    const length = header.readUInt32BE(16);
    return { option: header.readUInt32BE(8), type: header.readUInt32BE(12), data: await this.read(length) };
  }

  /** Client flags, structured replies, base:allocation and GO: straight into transmission. */
  async handshake(): Promise<void> {
    this.send(u32(3));
    this.option(8);
    await this.optionReply();
    const query = Buffer.from('base:allocation');
    this.option(10, Buffer.concat([u32(0), u32(1), u32(query.length), query]));
    while ((await this.optionReply()).type !== 1);
    this.option(7, Buffer.concat([u32(0), u16(0)]));
    while ((await this.optionReply()).type !== 1);
  }

  request(type: number, offset: bigint, length: number, cookie = 1n, flags = 0): void {
    this.send(u32(0x25609513), u16(flags), u16(type), u64(cookie), u64(offset), u32(length));
  }

  /** One structured reply chunk. */
  async chunk(): Promise<{ flags: number; type: number; cookie: bigint; payload: Buffer }> {
    const header = await this.read(20);
    if (header.readUInt32BE(0) !== 0x668e33ef) throw new Error(`not a structured reply: ${header.toString('hex')}`);
    return { flags: header.readUInt16BE(4), type: header.readUInt16BE(6), cookie: header.readBigUInt64BE(8), payload: await this.read(header.readUInt32BE(16)) };
  }

  /** Stops reading: what the server sends piles up in the socket buffers, as with a client that never reads. */
  stopReading(): void {
    this.socket.pause();
  }

  /**
   * After stopReading: reads again, dropping everything, and resolves true
   * once the server has closed the connection (a paused socket never sees
   * that), false if still open after `ms`.
   */
  async hungUpWhileDrained(ms = 30_000): Promise<boolean> {
    this.discarding = true;
    this.data = Buffer.alloc(0);
    this.socket.resume();
    return this.hungUp(ms);
  }

  /** Shuts the client's side of the connection down, reading on (libnbd does so after NBD_CMD_DISC). */
  endInput(): void {
    this.socket.end();
  }

  close(): void {
    this.socket.destroy();
  }
}

export function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

export function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
}

export function u64(value: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(value);
  return b;
}
