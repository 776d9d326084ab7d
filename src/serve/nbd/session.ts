import type { Socket } from 'node:net';
import { DamageError } from '../../integrity/hash-check.js';
import type { Logger } from '../../util/logger.js';
import { PoolShare, type BufferPool } from '../buffer-pool.js';
import type { ExportedImage } from '../exported-image.js';
import { negotiate, ProtocolViolation, type ExportDescription, type Negotiated } from './handshake.js';
import { DEFAULT_LIMITS, type SessionLimits } from './limits.js';
import {
  ALLOCATION_CONTEXT_ID,
  CMD_FLAG_FUA,
  CMD_FLAG_NO_HOLE,
  CMD_FLAG_REQ_ONE,
  Command,
  NBD_EINVAL,
  NBD_EIO,
  NBD_ENOSPC,
  NBD_EOVERFLOW,
  NBD_EPERM,
  REQUEST_MAGIC,
  STATE_HOLE,
  STATE_ZERO,
} from './protocol.js';
import { ReplyWriter } from './replies.js';
import { ConnectionClosed, WireReader } from './wire-reader.js';

/** Requests of one client worked on at once; more wait in its socket. */
const MAX_IN_FLIGHT = 16;
/** Extents in one block status reply (the protocol allows 2^20; clients ask again from where it ends). */
const MAX_EXTENTS = 16 * 1024;
const ZEROS = Buffer.alloc(1024 * 1024);
/** Pool buffers one client holds at once: with 8 in the pool, four clients that do not read leave none to the others. */
const BUFFERS_PER_SESSION = 2;

interface Request {
  flags: number;
  type: number;
  cookie: Buffer;
  offset: number;
  length: number;
}

/** A request the server refuses with an NBD error code and a message for the user. */
class Refusal extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface SessionContext {
  image: ExportedImage;
  pool: BufferPool;
  description: ExportDescription;
  logger: Logger;
  /** For log lines: who the client is. */
  peer: string;
  /** DEFAULT_LIMITS where not given. */
  limits?: Partial<SessionLimits>;
}

/**
 * One client's connection: the handshake, then its requests until it
 * disconnects or the server shuts down. Reads and status queries run
 * concurrently (up to MAX_IN_FLIGHT); writes, zeroes, flushes and simple
 * replies of more than one window one after another, in the order sent.
 * Memory for data comes from the server's pool; what waits for the client
 * to read is bounded by ReplyWriter.
 */
export class NbdSession {
  private readonly reader: WireReader;
  private readonly replies: ReplyWriter;
  private readonly buffers: PoolShare;
  private readonly limits: SessionLimits;
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;
  private negotiated: Negotiated = { structuredReplies: false, allocationContext: false };

  constructor(
    private readonly socket: Socket,
    private readonly context: SessionContext,
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...context.limits };
    this.reader = new WireReader(socket);
    this.buffers = new PoolShare(context.pool, BUFFERS_PER_SESSION);
    this.replies = new ReplyWriter(socket, this.limits.stalledMs, () => {
      this.context.logger.warn(`NBD client ${this.context.peer} read none of its replies for ${this.limits.stalledMs / 1000} s; disconnected`);
      this.socket.destroy();
    });
  }

  /** Serves the client; resolves once its connection is closed. */
  async run(): Promise<void> {
    try {
      // A deadline, not an idle timeout: a byte now and then must not hold a client's place for ever.
      const deadline = setTimeout(() => this.socket.destroy(), this.limits.handshakeMs);
      const negotiated = await negotiate(this.socket, this.reader, this.context.description, () => this.stopping).finally(() => clearTimeout(deadline));
      if (!negotiated || this.stopping) return;
      this.negotiated = negotiated;
      this.context.logger.debug(`NBD client ${this.context.peer} connected (structured replies: ${negotiated.structuredReplies ? 'yes' : 'no'})`);
      await this.transmit();
    } catch (err) {
      if (this.stopping && err instanceof ConnectionClosed) return;
      if (err instanceof ProtocolViolation) this.context.logger.warn(`NBD client ${this.context.peer} broke the protocol (${err.message}); disconnected`);
      else if (!(err instanceof ConnectionClosed)) this.context.logger.error(`NBD client ${this.context.peer}: ${(err as Error).message}`);
      this.socket.destroy();
    } finally {
      await Promise.allSettled(this.inFlight);
      this.close();
    }
  }

  /** Takes no more requests: what is in flight is answered, then the connection is closed. */
  shutdown(): void {
    this.stopping = true;
    this.reader.cancel();
  }

  /** Ends the connection now, answered or not: a shutdown that waited long enough. */
  destroy(): void {
    this.shutdown();
    this.socket.destroy();
  }

  private close(): void {
    if (this.socket.destroyed) return;
    // Closed once the replies went out; a client that never reads them loses the connection all the same.
    this.socket.destroySoon();
    setTimeout(() => this.socket.destroy(), 10_000).unref();
  }

  private async transmit(): Promise<void> {
    for (;;) {
      // Raced only with promises that settle soon: a reaction on a long-lived one would be kept for every request.
      while (this.inFlight.size >= MAX_IN_FLIGHT) await Promise.race(this.inFlight);
      if (this.stopping) return;
      const header = await this.reader.read(28);
      if (header.readUInt32BE(0) !== REQUEST_MAGIC) throw new ProtocolViolation('a request without its magic number');
      const request: Request = {
        flags: header.readUInt16BE(4),
        type: header.readUInt16BE(6),
        cookie: header.subarray(8, 16),
        // Offsets past 2^53 are past any export: refused below as out of range.
        offset: Number(header.readBigUInt64BE(16)),
        length: header.readUInt32BE(24),
      };
      if (request.type === Command.Disconnect) return;
      if (request.type === Command.Write) {
        await this.write(request);
        continue;
      }
      if (request.type === Command.WriteZeroes || request.type === Command.Flush) {
        await this.answer(request, () => this.serialCommand(request));
        continue;
      }
      if (this.spansWindows(request)) {
        // A simple reply is one message, written over several windows: no other reply may come between them.
        await Promise.allSettled(this.inFlight);
        await this.answer(request, () => this.concurrentCommand(request));
        continue;
      }
      const work = this.answer(request, () => this.concurrentCommand(request)).finally(() => this.inFlight.delete(work));
      this.inFlight.add(work);
    }
  }

  /** Runs a command and turns a refusal or failure into the error reply its kind of request takes. */
  private async answer(request: Request, command: () => Promise<void>): Promise<void> {
    try {
      await command();
    } catch (err) {
      let code = NBD_EIO;
      let message = 'input/output error';
      if (err instanceof Refusal) ({ code, message } = err);
      else if (err instanceof DamageError) message = `the revision is damaged: ${err.message}`;
      else this.context.logger.error(`NBD client ${this.context.peer}: request ${request.type} at ${request.offset} failed: ${(err as Error).message}`);
      if (this.negotiated.structuredReplies) {
        const offset = err instanceof DamageError ? Math.max(request.offset, err.offset) : undefined;
        this.replies.error(request.cookie, code, message, offset);
      } else {
        this.replies.simple(request.cookie, code);
      }
    }
    await this.replies.drained();
  }

  private concurrentCommand(request: Request): Promise<void> {
    switch (request.type) {
      case Command.Read:
        this.allowFlags(request, 0);
        this.inRange(request, NBD_EINVAL);
        if (request.length > this.context.description.maximumPayload) {
          throw new Refusal(this.negotiated.structuredReplies ? NBD_EOVERFLOW : NBD_EINVAL, 'read longer than the maximum payload');
        }
        return this.negotiated.structuredReplies ? this.readStructured(request) : this.readSimple(request);
      case Command.BlockStatus:
        return this.blockStatus(request);
      case Command.Trim:
        throw new Refusal(this.context.image.writable ? NBD_EINVAL : NBD_EPERM, 'trim is not supported');
      default:
        throw new Refusal(NBD_EINVAL, `unknown command ${request.type}`);
    }
  }

  private async serialCommand(request: Request): Promise<void> {
    const image = this.context.image;
    if (request.type === Command.Flush) {
      if (!image.writable) throw new Refusal(NBD_EINVAL, 'the export is read-only: nothing to flush');
      this.allowFlags(request, 0);
      await image.flush();
    } else {
      if (!image.writable) throw new Refusal(NBD_EPERM, 'the export is read-only');
      this.allowFlags(request, CMD_FLAG_NO_HOLE);
      this.inRange(request, NBD_ENOSPC);
      await image.zero(request.offset, request.length, (request.flags & CMD_FLAG_NO_HOLE) !== 0);
    }
    this.replies.simple(request.cookie, 0);
  }

  /**
   * A write's payload is read whatever becomes of it, so that the next
   * request is found where it starts: a refused one is dropped as it
   * arrives; the others are read one window at a time, each written into
   * the overlay as it arrives, so a write never holds more than one pool
   * buffer. A payload that takes too long ends the connection: its buffer
   * is one the other clients read with.
   */
  private async write(request: Request): Promise<void> {
    const { image, description } = this.context;
    if (request.length > description.maximumPayload) throw new ProtocolViolation(`a write of ${request.length} bytes, more than the maximum payload`);
    let refusal: Refusal | null = null;
    try {
      if (!image.writable) throw new Refusal(NBD_EPERM, 'the export is read-only (serve --writable takes writes)');
      this.allowFlags(request, 0);
      this.inRange(request, NBD_ENOSPC);
    } catch (err) {
      refusal = err as Refusal;
    }
    let failure: unknown = refusal;
    const deadline = setTimeout(() => {
      this.context.logger.warn(`NBD client ${this.context.peer} took over ${this.limits.payloadMs / 1000} s to send a write's payload; disconnected`);
      this.socket.destroy();
    }, this.limits.payloadMs);
    try {
      if (refusal) await this.reader.skip(request.length);
      else failure = await this.writePayload(request);
    } finally {
      clearTimeout(deadline);
    }
    await this.answer(request, async () => {
      if (failure) throw failure;
      this.replies.simple(request.cookie, 0);
    });
  }

  /** Reads the payload into the image; what failed there, if anything (the rest of the payload is read all the same). */
  private async writePayload(request: Request): Promise<unknown> {
    const buffer = await this.buffers.acquire();
    let failure: unknown = null;
    try {
      for (let done = 0; done < request.length; ) {
        const length = Math.min(this.buffers.bufferSize, request.length - done);
        await this.reader.readInto(buffer, length);
        if (!failure) await this.context.image.write(request.offset + done, buffer.subarray(0, length)).catch((err: unknown) => (failure = err));
        done += length;
      }
    } finally {
      this.buffers.release(buffer);
    }
    return failure;
  }

  /** One chunk per piece, each window's buffer back to the pool once the socket sent it. */
  private async readStructured(request: Request): Promise<void> {
    const { image } = this.context;
    const end = request.offset + request.length;
    if (request.length === 0) {
      this.replies.none(request.cookie);
      return;
    }
    for (let at = request.offset; at < end; ) {
      const windowEnd = Math.min(end, (Math.floor(at / image.window) + 1) * image.window);
      const buffer = await this.buffers.acquire();
      let pieces;
      try {
        pieces = await image.readWindow(at, windowEnd - at, buffer);
      } catch (err) {
        this.buffers.release(buffer);
        throw err;
      }
      pieces.forEach((piece, index) => {
        const done = windowEnd === end && index === pieces.length - 1;
        const release = index === pieces.length - 1 ? () => this.buffers.release(buffer) : undefined;
        if (piece.data) this.replies.data(request.cookie, piece.offset, piece.data, done, release);
        else {
          this.replies.hole(request.cookie, piece.offset, piece.length, done);
          release?.();
        }
      });
      at = windowEnd;
    }
  }

  /**
   * A simple reply cannot take an error back once its header went out: the
   * first window is proven before the header is sent, and a later window
   * that fails ends the connection (as the protocol says), so that the
   * client never takes wrong bytes for data.
   */
  private async readSimple(request: Request): Promise<void> {
    const { image } = this.context;
    const end = request.offset + request.length;
    if (request.length === 0) {
      this.replies.simple(request.cookie, 0);
      return;
    }
    for (let at = request.offset; at < end; ) {
      const windowEnd = Math.min(end, (Math.floor(at / image.window) + 1) * image.window);
      const buffer = await this.buffers.acquire();
      let parts: Buffer[];
      try {
        parts = (await image.readWindow(at, windowEnd - at, buffer)).map(
          (piece) => piece.data ?? (piece.length <= ZEROS.length ? ZEROS.subarray(0, piece.length) : Buffer.alloc(piece.length)),
        );
      } catch (err) {
        this.buffers.release(buffer);
        if (at === request.offset) throw err;
        this.context.logger.warn(`NBD client ${this.context.peer}: a read failed after its reply began (${(err as Error).message}); disconnected`);
        this.socket.destroy();
        return;
      }
      const release = () => this.buffers.release(buffer);
      if (at === request.offset) this.replies.simple(request.cookie, 0, parts, release);
      else this.replies.raw(parts, release);
      at = windowEnd;
    }
  }

  private async blockStatus(request: Request): Promise<void> {
    if (!this.negotiated.allocationContext) throw new Refusal(NBD_EINVAL, 'no metadata context was selected (base:allocation)');
    this.allowFlags(request, CMD_FLAG_REQ_ONE);
    this.inRange(request, NBD_EINVAL);
    if (request.length === 0) throw new Refusal(NBD_EINVAL, 'block status of zero bytes');
    const one = (request.flags & CMD_FLAG_REQ_ONE) !== 0;
    const extents = await this.context.image.extents(request.offset, request.length, one ? 1 : MAX_EXTENTS);
    this.replies.blockStatus(
      request.cookie,
      ALLOCATION_CONTEXT_ID,
      extents.map((e) => ({ length: e.length, flags: e.hole ? STATE_HOLE | STATE_ZERO : 0 })),
    );
  }

  /** A read answered with a simple reply of more than one window. */
  private spansWindows(request: Request): boolean {
    if (this.negotiated.structuredReplies || request.type !== Command.Read || request.length === 0) return false;
    const window = this.context.image.window;
    return Math.floor(request.offset / window) !== Math.floor((request.offset + request.length - 1) / window);
  }

  /** FUA is taken on every request: clients are known to set it where it means nothing. */
  private allowFlags(request: Request, allowed: number): void {
    if ((request.flags & ~(allowed | CMD_FLAG_FUA)) !== 0) {
      throw new Refusal(NBD_EINVAL, `flags 0x${request.flags.toString(16)} are not valid for this request`);
    }
  }

  private inRange(request: Request, code: number): void {
    if (request.offset + request.length > this.context.image.size) {
      throw new Refusal(code, `bytes ${request.offset}-${request.offset + request.length} lie beyond the end of the export (${this.context.image.size} bytes)`);
    }
  }
}
