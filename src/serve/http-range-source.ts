import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import parseRange from 'range-parser';
import { DamageError } from '../integrity/hash-check.js';
import type { Logger } from '../util/logger.js';
import type { BufferPool } from './buffer-pool.js';
import type { ExportedImage } from './exported-image.js';

/** Requests served at once (Ceph reads a few objects ahead); more wait in their sockets. */
const MAX_CONNECTIONS = 64;
/** Requests for other paths named in the log. */
const REFUSALS_LOGGED = 20;

/**
 * A revision as an HTTP resource that answers Range requests (HEAD for the
 * size, `GET bytes=A-B` for data): the source of Ceph's import-only live
 * migration. It is reachable only under a random, unguessable path; every
 * byte is read through the hash checks, and a damaged block fails the
 * request (a 500, or a response cut short once it started) rather than
 * send wrong bytes. Built without listening, in fastify's fashion.
 */
export class HttpRangeSource {
  private readonly app: FastifyInstance;
  private readonly token = randomBytes(24).toString('base64url');
  private servedBytes = 0;
  private refusing = false;
  private refused = 0;

  constructor(
    private readonly image: ExportedImage,
    private readonly pool: BufferPool,
    private readonly logger: Logger,
  ) {
    this.app = Fastify({ logger: false, routerOptions: { maxParamLength: 100 }, keepAliveTimeout: 60_000 });
    this.app.addHook('onRequest', async (request, reply) => {
      if (this.refusing) return reply.code(503).send('the restore was stopped\n');
      if (request.url !== `/${this.token}`) {
        // Said a few times, not once per request: anyone can knock.
        if (this.refused++ < REFUSALS_LOGGED) this.logger.warn(`HTTP source: refused ${request.method} ${request.url.slice(0, 80)} from ${request.ip}`);
        return reply.code(404).send('not found\n');
      }
      return undefined;
    });
    this.app.route({ method: ['GET', 'HEAD'], url: '/:token', handler: (request, reply) => this.answer(request.method, request.headers.range, reply) });
    this.app.server.maxConnections = MAX_CONNECTIONS;
  }

  /** Bytes sent so far (the data of GET responses). */
  get bytesServed(): number {
    return this.servedBytes;
  }

  /** Listens; resolves with the URL Ceph reads from. */
  async listen(host: string, port: number): Promise<string> {
    await this.app.listen({ host, port });
    const address = this.app.server.address();
    const bound = typeof address === 'object' && address ? address.port : port;
    return `http://${host.includes(':') ? `[${host}]` : host}:${bound}/${this.token}`;
  }

  /**
   * Answers every request from now on with 503: a migration reading from
   * here then fails by itself and closes its image cleanly, where a killed
   * rbd would leave its watch on the image for 30 s.
   */
  refuse(): void {
    this.refusing = true;
  }

  async close(): Promise<void> {
    await this.app.close();
  }

  private async answer(method: string, range: string | undefined, reply: FastifyReply): Promise<FastifyReply> {
    const size = this.image.size;
    reply.header('accept-ranges', 'bytes').header('content-type', 'application/octet-stream');
    let start = 0;
    let end = size;
    if (range !== undefined) {
      const ranges = parseRange(size, range, { combine: true });
      if (ranges === -1) return reply.code(416).header('content-range', `bytes */${size}`).send();
      // A malformed header, or several ranges (Ceph asks for one), is answered with the whole image, as HTTP allows.
      if (ranges !== -2 && ranges.type === 'bytes' && ranges.length === 1) {
        start = ranges[0]!.start;
        end = ranges[0]!.end + 1;
        reply.code(206).header('content-range', `bytes ${start}-${end - 1}/${size}`);
      }
    }
    reply.header('content-length', String(end - start));
    if (method === 'HEAD' || end === start) return reply.send();
    let first: Buffer;
    try {
      // The first window is read before the status goes out: a damaged block there is a clean 500.
      first = await this.readWindow(start, end);
    } catch (err) {
      this.logger.error(`HTTP source: bytes ${start}-${end - 1} not sent: ${(err as Error).message}`);
      return reply.code(err instanceof DamageError ? 500 : 503).header('content-length', null).send(`${(err as Error).message}\n`);
    }
    return reply.send(Readable.from(this.rest(first, start, end), { objectMode: false, highWaterMark: this.image.window }));
  }

  private async *rest(first: Buffer, start: number, end: number): AsyncGenerator<Buffer> {
    this.servedBytes += first.length;
    yield first;
    for (let at = start + first.length; at < end; ) {
      const bytes = await this.readWindow(at, end);
      this.servedBytes += bytes.length;
      at += bytes.length;
      yield bytes;
    }
  }

  /** The bytes from `at` to the end of its window (or `end`), as a buffer of their own. */
  private async readWindow(at: number, end: number): Promise<Buffer> {
    const windowEnd = Math.min(end, (Math.floor(at / this.image.window) + 1) * this.image.window);
    const [buffer] = await this.pool.acquire(1);
    try {
      const out = Buffer.alloc(windowEnd - at);
      for (const piece of await this.image.readWindow(at, windowEnd - at, buffer!)) piece.data?.copy(out, piece.offset - at);
      return out;
    } finally {
      this.pool.release(buffer!);
    }
  }
}
