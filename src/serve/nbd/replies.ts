import type { Socket } from 'node:net';
import {
  REPLY_FLAG_DONE,
  REPLY_TYPE_BLOCK_STATUS,
  REPLY_TYPE_ERROR,
  REPLY_TYPE_ERROR_OFFSET,
  REPLY_TYPE_NONE,
  REPLY_TYPE_OFFSET_DATA,
  REPLY_TYPE_OFFSET_HOLE,
  SIMPLE_REPLY_MAGIC,
  STRUCTURED_REPLY_MAGIC,
} from './protocol.js';

/** Bytes queued on a socket before a request waits for the client to read its replies. */
const QUEUED_LIMIT = 4 * 1024 * 1024;

/**
 * The replies of one session, written to its socket. Each message is
 * handed to the socket in one go, so chunks of concurrent replies never
 * interleave inside a message; `release` callbacks run once the socket
 * has sent the bytes (or given up), when a pooled buffer may be reused.
 * Replies waiting with none of them sent for `stalledMs` call `onStall`:
 * the client does not read, and its replies hold pool buffers.
 */
export class ReplyWriter {
  private unsent = 0;
  private stall: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly stalledMs: number,
    private readonly onStall: () => void,
  ) {}

  simple(cookie: Buffer, error: number, data: Buffer[] = [], release?: () => void): void {
    const header = Buffer.alloc(16);
    header.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
    header.writeUInt32BE(error, 4);
    cookie.copy(header, 8);
    this.send([header, ...data], release);
  }

  /** More of a simple read reply's data. */
  raw(data: Buffer[], release?: () => void): void {
    this.send(data, release);
  }

  data(cookie: Buffer, offset: number, data: Buffer, done: boolean, release?: () => void): void {
    const header = this.chunkHeader(cookie, done, REPLY_TYPE_OFFSET_DATA, 8 + data.length, 8);
    header.writeBigUInt64BE(BigInt(offset), 20);
    this.send([header, data], release);
  }

  hole(cookie: Buffer, offset: number, length: number, done: boolean): void {
    const header = this.chunkHeader(cookie, done, REPLY_TYPE_OFFSET_HOLE, 12, 12);
    header.writeBigUInt64BE(BigInt(offset), 20);
    header.writeUInt32BE(length, 28);
    this.send([header]);
  }

  none(cookie: Buffer): void {
    this.send([this.chunkHeader(cookie, true, REPLY_TYPE_NONE, 0, 0)]);
  }

  blockStatus(cookie: Buffer, contextId: number, descriptors: Array<{ length: number; flags: number }>): void {
    const header = this.chunkHeader(cookie, true, REPLY_TYPE_BLOCK_STATUS, 4 + 8 * descriptors.length, 4 + 8 * descriptors.length);
    header.writeUInt32BE(contextId, 20);
    descriptors.forEach((d, i) => {
      header.writeUInt32BE(d.length, 24 + 8 * i);
      header.writeUInt32BE(d.flags, 28 + 8 * i);
    });
    this.send([header]);
  }

  /** An error chunk ending the reply; with `offset`, where in the request it happened. */
  error(cookie: Buffer, error: number, message: string, offset?: number): void {
    const text = Buffer.from(message.slice(0, 1024));
    const extra = offset === undefined ? 0 : 8;
    const payload = 6 + text.length + extra;
    const header = this.chunkHeader(cookie, true, offset === undefined ? REPLY_TYPE_ERROR : REPLY_TYPE_ERROR_OFFSET, payload, payload);
    header.writeUInt32BE(error, 20);
    header.writeUInt16BE(text.length, 24);
    text.copy(header, 26);
    if (offset !== undefined) header.writeBigUInt64BE(BigInt(offset), 26 + text.length);
    this.send([header]);
  }

  /** Resolves when the client has read enough of what is queued (or the socket is gone). */
  drained(): Promise<void> {
    return drained(this.socket, QUEUED_LIMIT);
  }

  /** A structured chunk's 20-byte header followed by room for `inline` bytes of its payload. */
  private chunkHeader(cookie: Buffer, done: boolean, type: number, length: number, inline: number): Buffer {
    const header = Buffer.alloc(20 + inline);
    header.writeUInt32BE(STRUCTURED_REPLY_MAGIC, 0);
    header.writeUInt16BE(done ? REPLY_FLAG_DONE : 0, 4);
    header.writeUInt16BE(type, 6);
    cookie.copy(header, 8);
    header.writeUInt32BE(length, 16);
    return header;
  }

  private send(parts: Buffer[], release?: () => void): void {
    if (this.socket.destroyed) {
      release?.();
      return;
    }
    this.unsent++;
    this.stall ??= setTimeout(() => this.onStall(), this.stalledMs).unref();
    const sent = () => {
      this.progress();
      release?.();
    };
    this.socket.cork();
    parts.forEach((part, index) => this.socket.write(part, index === parts.length - 1 ? sent : undefined));
    this.socket.uncork();
  }

  /** A message went out (or the socket gave up on it): the stall watch starts again, or stops with nothing left. */
  private progress(): void {
    this.unsent--;
    if (this.unsent > 0) this.stall?.refresh();
    else if (this.stall) {
      clearTimeout(this.stall);
      this.stall = null;
    }
  }
}

/** Resolves once no more than `limit` bytes wait on the socket for the client to read (or the socket is gone). */
export async function drained(socket: Socket, limit: number): Promise<void> {
  if (socket.writableLength <= limit || socket.destroyed) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
