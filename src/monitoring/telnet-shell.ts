import { createServer, type Socket } from 'node:net';
import type { FrontEnd, FrontEndPlugin } from '../scheduler/front-end.js';
import type { SchedulerView } from '../scheduler/status-model.js';
import type { Logger } from '../util/logger.js';
import { VERSION } from '../util/version.js';
import { closeServers, listenOnAll } from './listen.js';
import { JobMatcher } from './telnet/job-matcher.js';
import { serveSession } from './telnet/session.js';

export interface TelnetShellOptions {
  /** Listen addresses (`telnet-addrs`); unbindable ones are logged and skipped. */
  addresses: string[];
  port: number;
  logger: Logger;
  /** The clock for SLA and elapsed times (tests pass a fixed one). */
  now?: () => Date;
  /** Sessions served at once (`telnet-max-sessions`, default 64); a client beyond is told so and closed. */
  maxSessions?: number;
  /** A session that sends nothing for this long is closed (`telnet-idle-timeout`, default 10 minutes). */
  idleTimeoutSeconds?: number;
}

export interface TelnetShell {
  /** Addresses actually listening, as `host:port` (`[::1]:6023` for IPv6). */
  readonly listening: string[];
  close(): Promise<void>;
}

export const TELNET_PROMPT = `backy-${VERSION} % `;

/** How long a refused client gets to take its one line before its connection is dropped. */
const REFUSAL_LINGER_MS = 5_000;

/**
 * The scheduler's telnet shell: listens on every configured address and
 * nowhere else. No client can take more than its share: sessions are
 * capped, idle ones closed, and a client beyond the cap holds a descriptor
 * only while it is told so. The shell has no authentication, so listening
 * on every address of the host is logged as a warning.
 */
export async function startTelnetShell(view: SchedulerView, options: TelnetShellOptions): Promise<TelnetShell> {
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  const maxSessions = options.maxSessions ?? 64;
  const idleTimeoutMs = (options.idleTimeoutSeconds ?? 600) * 1000;
  const sessions = new Set<Socket>();
  const matcher = new JobMatcher();
  let refused = 0;

  const accept = (socket: Socket): void => {
    socket.on('error', (err) => logger.debug(`telnet: ${socket.remoteAddress}: ${err.message}`));
    if (sessions.size >= maxSessions) {
      if (refused++ === 0) logger.warn(`telnet shell: ${maxSessions} sessions open (telnet-max-sessions); refusing more`);
      socket.setTimeout(REFUSAL_LINGER_MS, () => socket.destroy());
      socket.end(`too many telnet sessions (${maxSessions} open); try again later\r\n`, () => socket.destroy());
      return;
    }
    if (refused > 0) {
      logger.info(`telnet shell: accepting sessions again (${refused} refused meanwhile)`);
      refused = 0;
    }
    sessions.add(socket);
    socket.on('close', () => sessions.delete(socket));
    serveSession(socket, view, { prompt: TELNET_PROMPT, logger, now, idleTimeoutMs, matcher });
  };

  const { servers, addresses } = await listenOnAll(
    {
      what: 'telnet shell',
      addresses: options.addresses,
      port: options.port,
      logger,
      wildcardWarning: 'without authentication: anyone who reaches the port can see every job and start backups',
    },
    // Half-open: a client whose input ended (`printf 'jobs\nstatus\n' | nc -N`) still reads the answers.
    () => createServer({ allowHalfOpen: true }, accept),
  ).catch(async (err: unknown) => {
    await matcher.close();
    throw err;
  });

  let closed: Promise<void> | undefined;
  return {
    listening: addresses,
    close: () => {
      closed ??= (async () => {
        const stopped = closeServers(servers);
        for (const socket of sessions) socket.destroy();
        await Promise.all([stopped, matcher.close()]);
      })();
      return closed;
    },
  };
}

/** The telnet shell as the scheduler's front-end, configured by `telnet-*`. */
export const telnetFrontEnd: FrontEndPlugin = {
  name: 'telnet shell',
  async start({ view, config, logger, now }): Promise<FrontEnd> {
    const shell = await startTelnetShell(view, {
      addresses: config.telnetAddresses,
      port: config.telnetPort,
      logger,
      now,
      maxSessions: config.telnetMaxSessions,
      idleTimeoutSeconds: config.telnetIdleTimeoutSeconds,
    });
    const settings = (c: typeof config) => JSON.stringify([c.telnetAddresses, c.telnetPort, c.telnetMaxSessions, c.telnetIdleTimeoutSeconds]);
    const running = settings(config);
    return {
      listening: shell.listening.map((address) => `telnet shell on ${address}`),
      close: () => shell.close(),
      prepareReload: async (next) => () => {
        if (settings(next) !== running) logger.warn('telnet-* settings take effect when the scheduler is restarted');
      },
    };
  },
};
