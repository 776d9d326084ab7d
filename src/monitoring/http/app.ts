import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { SchedulerControl } from '../../scheduler/status-model.js';
import type { Logger } from '../../util/logger.js';
import { isApiRequest, registerApi } from './api.js';
import { Authenticator } from './auth.js';
import { registerDashboard } from './dashboard.js';
import { sendError } from './errors.js';
import { limitedReports, moreSince } from '../limited-reports.js';
import { schedulerMetrics } from './metrics.js';
import type { TokenBook } from './tokens.js';

export interface HttpAppOptions {
  view: SchedulerControl;
  logger: Logger;
  now: () => Date;
  /** The token file as last read (it is read again on SIGHUP). */
  tokens: () => TokenBook;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** Refused requests logged a minute at most; the rest are counted in the next line logged. */
const REFUSALS_LOGGED = 20;
const REFUSAL_INTERVAL_MS = 60_000;

/** Connections one listening address serves at once; more are dropped by Node at once. */
const MAX_CONNECTIONS = 64;

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/**
 * The scheduler's HTTP server, built without listening (fastify style; the
 * tests drive it with `inject` too): the JSON API under `/v1` (bearer
 * tokens), `/metrics` (open, for Prometheus), the dashboard (a session
 * cookie). fastify's own logger is off: it would log query strings, which
 * may hold a dashboard token; requests that change something and refused
 * ones are logged here, without either.
 */
export async function buildHttpApp(options: HttpAppOptions): Promise<{ app: FastifyInstance; server: () => Server }> {
  const { view, logger, now } = options;
  let handler: Handler | undefined;
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 256 },
    // Answered below, so that a request during the shutdown gets an error with its code like any other.
    return503OnClosing: false,
    // A path the router cannot take (a bad %-escape, a job name over maxParamLength) is answered before any hook:
    // without this, in fastify's own shape ({"code": "FST_ERR_BAD_URL", ...}, a 414) and without the headers below.
    frameworkErrors: (err, _request, reply) => {
      reply.headers(SECURITY_HEADERS);
      // Not fastify's message: it repeats the whole address, query string (a dashboard token) and all.
      const why = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a part of the path is too long' : 'the path is not a valid URL (a bad %-escape)';
      return sendError(reply, 'BAD_REQUEST', why);
    },
    serverFactory: (h) => {
      handler = h as Handler;
      return limited(createServer(h));
    },
  });
  const auth = new Authenticator(options.tokens);
  // Anyone who can connect can be refused, as often as they like: the log is not theirs to fill.
  const refusal = limitedReports(REFUSALS_LOGGED, REFUSAL_INTERVAL_MS, (suppressed, line: string) => logger.warn(`${line}${moreSince(suppressed)}`));
  const clients = new WeakMap<FastifyRequest, string>();
  await app.register(fastifyCookie);
  await app.register(fastifyFormbody);

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    if (closing) return sendError(reply, 'SHUTTING_DOWN', 'the scheduler is shutting down');
    if (!isApiRequest(request)) return;
    const header = request.headers.authorization;
    const client = auth.bearer(header);
    if (client) {
      clients.set(request, client);
      return;
    }
    refusal(`http: refused ${request.method} ${request.url.split('?')[0]!.slice(0, 200)} from ${request.ip}: ${header ? 'a token not in the token file' : 'no token'}`);
    return sendError(reply, 'UNAUTHORIZED', header ? 'the token is not in the token file' : 'expected "Authorization: Bearer TOKEN"');
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    return payload;
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
  app.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return sendError(reply, 'BAD_REQUEST', err.message);
    logger.error(`http: ${request.method} ${request.url.split('?')[0]} failed: ${err.message}`);
    return sendError(reply, 'INTERNAL', 'internal error (see the scheduler log)');
  });

  const metrics = schedulerMetrics(view, now);
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
  registerApi(app, { view, logger, now, clientOf: (request) => clients.get(request) ?? 'unknown' });
  registerDashboard(app, { view, auth, logger, now, refusal });
  await app.ready();
  return { app, server: () => limited(createServer(handler!)) };
}

/** Bounds what a client can hold: connections, slow headers and bodies, idle keep-alives. */
function limited(server: Server): Server {
  server.maxConnections = MAX_CONNECTIONS;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.setTimeout(60_000);
  return server;
}
