import type { Server } from 'node:http';
import type { SchedulerConfig } from '../../scheduler/config.js';
import type { FrontEnd, FrontEndPlugin } from '../../scheduler/front-end.js';
import type { Logger } from '../../util/logger.js';
import { closeServers, listenOnAll } from '../listen.js';
import { buildHttpApp } from './app.js';
import { readTokenFile, TokenBook } from './tokens.js';

async function tokensOf(config: SchedulerConfig, logger: Logger): Promise<TokenBook> {
  if (config.apiTokensFile === null) {
    logger.warn('HTTP server: no api-tokens file configured: every request but GET /metrics is refused');
    return TokenBook.empty;
  }
  return readTokenFile(config.apiTokensFile);
}

/**
 * The HTTP server as the scheduler's front-end (`http-addrs`, `http-port`,
 * `api-tokens`); off with `http-port: 0` or no addresses. A token file
 * others may read stops the start, and a reload with a bad one is refused.
 */
export const httpFrontEnd: FrontEndPlugin = {
  name: 'HTTP server',
  async start({ view, config, logger, now }): Promise<FrontEnd> {
    if (config.httpPort === 0 || config.httpAddresses.length === 0) return { listening: [], close: async () => undefined };
    let tokens = await tokensOf(config, logger);
    const { app, server } = await buildHttpApp({ view, logger, now, tokens: () => tokens });
    let servers: Server[];
    let addresses: string[];
    try {
      ({ servers, addresses } = (await listenOnAll(
        { what: 'HTTP server', addresses: config.httpAddresses, port: config.httpPort, logger },
        server,
      )) as { servers: Server[]; addresses: string[] });
    } catch (err) {
      await app.close();
      throw err;
    }
    const settings = (c: SchedulerConfig) => JSON.stringify([c.httpAddresses, c.httpPort]);
    return {
      listening: addresses.map((address) => `HTTP server on ${address}`),
      prepareReload: async (next) => {
        const book = await tokensOf(next, logger);
        return () => {
          tokens = book;
          if (settings(next) !== settings(config)) logger.warn('http-addrs and http-port take effect when the scheduler is restarted');
        };
      },
      close: async () => {
        const closed = closeServers(servers);
        for (const s of servers) s.closeAllConnections();
        await Promise.all([closed, app.close()]);
      },
    };
  },
};
