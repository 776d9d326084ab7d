import { isIPv6, type Server } from 'node:net';
import { BackyError, errorCode } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { limitedReports, moreSince } from './limited-reports.js';

/**
 * Listening on a configured list of addresses, for every front-end alike:
 * an address that cannot be bound (no IPv6 on the host) is logged and
 * skipped; when none can be bound, a BackyError with every reason stops the
 * scheduler's start-up.
 */

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EAFNOSUPPORT: 'address family not supported (no IPv6?)',
  EACCES: 'permission denied',
  ENOTFOUND: 'unknown host name',
  EAI_AGAIN: 'host name lookup failed',
};

export interface ListenOptions {
  /** `telnet shell`, `HTTP server`: the subject of the log lines. */
  what: string;
  addresses: string[];
  port: number;
  logger: Logger;
  /** Logged as a warning for each wildcard address (`0.0.0.0`, `::`), after "reachable from the network". */
  wildcardWarning?: string;
}

export interface Listening {
  servers: Server[];
  /** `host:port` (`[::1]:6023` for IPv6) of each address actually listening. */
  addresses: string[];
}

export async function listenOnAll(options: ListenOptions, createServer: () => Server): Promise<Listening> {
  const { what, logger } = options;
  const servers: Server[] = [];
  const listening: string[] = [];
  const failures: string[] = [];
  // A comma-separated list in the configuration: tolerate the spaces.
  for (const address of options.addresses.map((a) => a.trim()).filter((a) => a.length > 0)) {
    const server = createServer();
    try {
      const port = await listen(server, address, options.port);
      servers.push(server);
      const where = hostPort(address, port);
      listening.push(where);
      server.on('error', limitedReports(1, ERROR_REPORT_INTERVAL_MS, (suppressed, err: Error) => {
        logger.error(`${what} on ${where}: ${err.message}${moreSince(suppressed)}`);
      }));
      if (options.wildcardWarning && isWildcard(address)) {
        logger.warn(`${what} listens on ${where}, every address of this host: reachable from the network ${options.wildcardWarning}`);
      }
    } catch (err) {
      const reason = LISTEN_ERRORS[errorCode(err) ?? ''] ?? (err instanceof Error ? err.message : String(err));
      failures.push(`${hostPort(address, options.port)}: ${reason}`);
      logger.warn(`${what} cannot listen on ${hostPort(address, options.port)}: ${reason}; skipped`);
    }
  }
  if (servers.length === 0) {
    const why = failures.length > 0 ? failures.join('; ') : 'no address is configured';
    throw new BackyError(`${what} cannot listen on any address: ${why}`);
  }
  logger.info(`${what} listening on ${listening.join(', ')}`);
  return { servers, addresses: listening };
}

/** How often a listening server's errors (EMFILE under a flood of connections) are logged. */
const ERROR_REPORT_INTERVAL_MS = 60_000;

/** `0.0.0.0`, `::`, `0:0::0`: every address of the host. */
export function isWildcard(address: string): boolean {
  if (address === '0.0.0.0') return true;
  return isIPv6(address) && address.split(':').every((group) => /^0*$/.test(group));
}

export function hostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

export function closeServers(servers: Server[]): Promise<void> {
  return Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))).then(() => undefined);
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
