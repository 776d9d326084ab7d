import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SchedulerControl } from '../../scheduler/status-model.js';
import type { Logger } from '../../util/logger.js';
import { Authenticator, SESSION_COOKIE, SESSION_SECONDS } from './auth.js';
import { isApiRequest } from './api.js';
import { sendError } from './errors.js';
import { DASHBOARD_CSS, jobPage, jobsPage, loginPage, noSuchJobPage } from './pages.js';

export interface DashboardOptions {
  view: SchedulerControl;
  auth: Authenticator;
  logger: Logger;
  now: () => Date;
  /** Logs a refused request (rate-limited: anyone can be refused). */
  refusal: (line: string) => void;
}

/** What the pages load, all from the scheduler: uPlot from its npm package, the rest from here. */
function assets(): Record<string, { type: string; body: string }> {
  const uplot = createRequire(import.meta.url).resolve('uplot');
  const dist = (name: string) => readFileSync(new URL(name, `file://${uplot}`), 'utf8');
  return {
    'uPlot.iife.min.js': { type: 'text/javascript; charset=utf-8', body: dist('uPlot.iife.min.js') },
    'uPlot.min.css': { type: 'text/css; charset=utf-8', body: dist('uPlot.min.css') },
    // The pages' own modules (dashboard.js imports axis-labels.js from beside it).
    ...Object.fromEntries(
      ['dashboard.js', 'axis-labels.js'].map((name) => [
        name,
        { type: 'text/javascript; charset=utf-8', body: readFileSync(fileURLToPath(new URL(`./browser/${name}`, import.meta.url)), 'utf8') },
      ]),
    ),
    'dashboard.css': { type: 'text/css; charset=utf-8', body: DASHBOARD_CSS },
  };
}

/**
 * Where to go after signing in: a path on this server, never elsewhere.
 * Only printable ASCII without spaces: browsers drop tabs and line breaks
 * from a Location, so `/<TAB>/evil.example` would become `//evil.example`.
 */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/(?![/\\])[!-~]*$/.test(value) && !value.includes('\\') ? value : '/';
}

/** The request's address, or nothing for one that is no URL (`//[`): such a request is answered by the routes, not here. */
function pageUrl(request: FastifyRequest): URL | undefined {
  try {
    return new URL(request.url, 'http://backy');
  } catch {
    return undefined;
  }
}

/**
 * The web dashboard: pages behind the same tokens as the API, by a
 * session cookie (HttpOnly, SameSite=Strict) from the login form or, for
 * links from alerting systems, from `?token=TOKEN` on any page, which is
 * answered with the cookie and a redirect to the address without the token.
 */
export function registerDashboard(app: FastifyInstance, { view, auth, logger, now, refusal }: DashboardOptions): void {
  const files = assets();
  const startSession = (reply: FastifyReply, client: string) =>
    reply.setCookie(SESSION_COOKIE, auth.newSession(client, now()), {
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      maxAge: SESSION_SECONDS,
    });
  const signedIn = (request: FastifyRequest) => auth.session(request.cookies[SESSION_COOKIE], now());

  /** `?token=` on a page: a session for its client and the same address without the token. */
  app.addHook('onRequest', async (request, reply) => {
    if (request.method !== 'GET' || isApiRequest(request) || request.url.startsWith('/metrics')) return;
    const url = pageUrl(request);
    if (!url) return;
    const token = url.searchParams.get('token');
    if (token === null) return;
    url.searchParams.delete('token');
    const client = auth.client(token);
    if (!client) {
      refusal(`http: refused a dashboard link from ${request.ip}: its token is not in the token file`);
      return reply.code(401).type('text/html; charset=utf-8').send(loginPage(safeNext(`${url.pathname}${url.search}`), true));
    }
    logger.info(`http: ${client} signed in to the dashboard from ${request.ip} (by link)`);
    // A path of the request, but one like `//evil.example/` (sent by a script, never by a browser) would lead elsewhere.
    return startSession(reply, client).redirect(safeNext(`${url.pathname}${url.search}`), 303);
  });

  type PageRequest = FastifyRequest<{ Params: { job?: string }; Querystring: { filter?: string } }>;
  const page = (handler: (request: PageRequest, reply: FastifyReply) => Promise<unknown>) =>
    async (request: PageRequest, reply: FastifyReply) => {
      if (!signedIn(request)) {
        const next = pageUrl(request);
        return reply.code(401).type('text/html; charset=utf-8').send(loginPage(next ? safeNext(`${next.pathname}${next.search}`) : '/', false));
      }
      return handler(request, reply);
    };

  app.get(
    '/',
    page(async (request, reply) => {
      const filter = typeof request.query.filter === 'string' ? request.query.filter.slice(0, 200) : '';
      return reply.type('text/html; charset=utf-8').send(jobsPage(view.status(), view.jobs(), now(), filter));
    }),
  );
  app.get(
    '/jobs/:job',
    page(async (request, reply) => {
      const detail = await view.jobDetail(request.params.job ?? '');
      if (!detail) return reply.code(404).type('text/html; charset=utf-8').send(noSuchJobPage(request.params.job ?? ''));
      return reply.type('text/html; charset=utf-8').send(jobPage(detail, now()));
    }),
  );
  // Assets hold no data (uPlot, the pages' script and style): the login form may use them too.
  app.get<{ Params: { name: string } }>('/assets/:name', async (request, reply) => {
    const file = Object.hasOwn(files, request.params.name) ? files[request.params.name] : undefined;
    if (!file) return sendError(reply, 'NOT_FOUND', 'no such asset');
    return reply.type(file.type).header('cache-control', 'private, max-age=3600').send(file.body);
  });
  app.get<{ Querystring: { next?: string } }>('/login', async (request, reply) =>
    reply.type('text/html; charset=utf-8').send(loginPage(safeNext(request.query.next), false)),
  );
  app.post<{ Body: { token?: string; next?: string } }>('/login', async (request, reply) => {
    const next = safeNext(request.body?.next);
    const client = typeof request.body?.token === 'string' ? auth.client(request.body.token) : null;
    if (!client) {
      refusal(`http: refused a dashboard sign-in from ${request.ip}: the token is not in the token file`);
      return reply.code(401).type('text/html; charset=utf-8').send(loginPage(next, true));
    }
    logger.info(`http: ${client} signed in to the dashboard from ${request.ip}`);
    return startSession(reply, client).redirect(next, 303);
  });
}
