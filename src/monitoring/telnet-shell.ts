import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import type { SchedulerView } from '../scheduler/status-model.js';
import { BackyError, errorCode } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { VERSION } from '../util/version.js';
import { serveSession } from './telnet/session.js';

export interface TelnetShellOptions {
  /** Listen addresses (`telnet-addrs`); unbindable ones are logged and skipped. */
  addresses: string[];
  port: number;
  logger: Logger;
  /** The clock for SLA and elapsed times (tests pass a fixed one). */
  now?: () => Date;
}

export interface TelnetShell {
  /** Addresses actually listening, as `host:port` (`[::1]:6023` for IPv6). */
  readonly listening: string[];
  close(): Promise<void>;
}

export const TELNET_PROMPT = `backy-${VERSION} % `;

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EAFNOSUPPORT: 'address family not supported (no IPv6?)',
  EACCES: 'permission denied',
  ENOTFOUND: 'unknown host name',
  EAI_AGAIN: 'host name lookup failed',
};

/**
 * The scheduler's telnet shell: listens on every configured address and
 * nowhere else. An address that cannot be bound (no IPv6 on the host) is
 * logged and skipped; when none can be bound this throws a BackyError with
 * every reason, and the scheduler does not start.
 */
export async function startTelnetShell(view: SchedulerView, options: TelnetShellOptions): Promise<TelnetShell> {
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  const sessions = new Set<Socket>();
  const servers: Server[] = [];
  const listening: string[] = [];
  const failures: string[] = [];

  // `telnet-addrs` is a comma-separated list in the configuration: tolerate the spaces.
  const addresses = options.addresses.map((a) => a.trim()).filter((a) => a.length > 0);
  for (const address of addresses) {
    const server = createServer((socket) => {
      sessions.add(socket);
      socket.on('close', () => sessions.delete(socket));
      serveSession(socket, view, { prompt: TELNET_PROMPT, logger, now });
    });
    try {
      const port = await listen(server, address, options.port);
      servers.push(server);
      listening.push(hostPort(address, port));
      server.on('error', (err) => logger.error(`telnet shell on ${hostPort(address, port)}: ${err.message}`));
    } catch (err) {
      const reason = LISTEN_ERRORS[errorCode(err) ?? ''] ?? (err instanceof Error ? err.message : String(err));
      failures.push(`${hostPort(address, options.port)}: ${reason}`);
      logger.warn(`telnet shell cannot listen on ${hostPort(address, options.port)}: ${reason}; skipped`);
    }
  }
  if (servers.length === 0) {
    const why = failures.length > 0 ? failures.join('; ') : 'telnet-addrs names no address';
    throw new BackyError(`telnet shell cannot listen on any address: ${why}`);
  }
  logger.info(`telnet shell listening on ${listening.join(', ')}`);

  let closed: Promise<void> | undefined;
  return {
    listening,
    close: () => {
      closed ??= (async () => {
        const stopped = servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
        for (const socket of sessions) socket.destroy();
        await Promise.all(stopped);
      })();
      return closed;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error): void => reject(err);
    server.once('error', fail);
    // ipv6Only: `::` must not also take IPv4, which `0.0.0.0` in the same list would then fail to bind.
    server.listen({ host, port, ipv6Only: isIPv6(host), exclusive: true }, () => {
      server.off('error', fail);
      const bound = server.address();
      resolve(typeof bound === 'object' && bound !== null ? bound.port : port);
    });
  });
}

function hostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
