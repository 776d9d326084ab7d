import { createServer, type Server, type Socket } from 'node:net';
import { DEFAULT_LIMITS } from './limits.js';
import { NbdSession, type SessionContext } from './session.js';

/** Where a server listens: a TCP address, or a Unix socket's path. */
export type ListenAddress = { host: string; port: number } | { path: string };

/** Clients served at once; more are turned away (each may hold up to 2 pool buffers). */
const MAX_CLIENTS = 64;

/**
 * An NBD server of one export: a session per client, all sharing one
 * image and one buffer pool. Built without listening, so that tests and
 * the CLI start it where they like; `close` stops taking clients, lets
 * every session answer what it was asked and closes them, cutting off
 * those still not done after a grace period.
 */
export class NbdServer {
  private readonly server: Server;
  private readonly sessions = new Set<{ session: NbdSession; done: Promise<void> }>();
  private closing = false;

  constructor(private readonly context: Omit<SessionContext, 'peer'>) {
    // Half-open: libnbd shuts its side down after NBD_CMD_DISC, and the requests before it are still to be answered.
    this.server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
  }

  /** Starts listening; resolves with the NBD URI of the export. */
  listen(address: ListenAddress): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      const done = () => {
        this.server.off('error', reject);
        resolve(this.uri(address));
      };
      if ('path' in address) this.server.listen(address.path, done);
      else this.server.listen(address.port, address.host, done);
    });
  }

  get clients(): number {
    return this.sessions.size;
  }

  async close(): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const { session } of this.sessions) session.shutdown();
    // A client that never reads its replies would keep its session, and so the server, for ever.
    const grace = setTimeout(() => {
      for (const { session } of this.sessions) session.destroy();
    }, this.context.limits?.closeGraceMs ?? DEFAULT_LIMITS.closeGraceMs);
    await Promise.all([...this.sessions].map((s) => s.done));
    clearTimeout(grace);
    await closed;
  }

  private accept(socket: Socket): void {
    const peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'on the Unix socket';
    if (this.closing || this.sessions.size >= MAX_CLIENTS) {
      this.context.logger.warn(`NBD client ${peer} turned away: ${this.closing ? 'the server is shutting down' : `${MAX_CLIENTS} clients are connected already`}`);
      socket.destroy();
      return;
    }
    socket.on('error', () => undefined);
    const session = new NbdSession(socket, { ...this.context, peer });
    const entry = {
      session,
      done: session.run().finally(() => {
        this.sessions.delete(entry);
      }),
    };
    this.sessions.add(entry);
  }

  private uri(address: ListenAddress): string {
    // Each part escaped: encodeURI leaves & # ? as they are, which end the query's value for every client.
    if ('path' in address) return `nbd+unix:///?socket=${address.path.split('/').map(encodeURIComponent).join('/')}`;
    const bound = this.server.address();
    const port = typeof bound === 'object' && bound ? bound.port : address.port;
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    return `nbd://${host}:${port}`;
  }
}
