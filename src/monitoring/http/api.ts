import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SchedulerControl } from '../../scheduler/status-model.js';
import { encodeScheduler } from '../../scheduler/status-wire.js';
import type { Logger } from '../../util/logger.js';
import { printable } from '../../util/printable.js';
import { jobCounts, jobRecord } from '../job-record.js';
import { sendError } from './errors.js';

export interface ApiOptions {
  view: SchedulerControl;
  logger: Logger;
  now: () => Date;
  /** The authenticated client of a request (set by the app's hook). */
  clientOf: (request: FastifyRequest) => string;
}

/**
 * Whether a request needs a token: by the route it matched, since the
 * router decodes the path first (`/%761/reload` is `/v1/reload` to it),
 * or, when it matched none, by its path as sent (a 401 rather than a 404
 * for `/v1/…`, telling nothing of which routes exist).
 */
export function isApiRequest(request: FastifyRequest): boolean {
  const under = (path: string) => path === '/v1' || path.startsWith('/v1/');
  const route = request.routeOptions.url;
  return route !== undefined ? under(route) : under(request.url);
}

/**
 * The JSON API, `/v1/...`: the scheduler's state in the status file's
 * words (snake_case, ISO 8601 UTC), and the changes telnet and SIGHUP
 * make. Every change is logged with the client's name.
 */
export function registerApi(app: FastifyInstance, { view, logger, now, clientOf }: ApiOptions): void {
  // As telnet `status` shows it: also the workers and the jobs counted.
  app.get('/v1/status', async () => {
    const status = view.status();
    const busy = status.running.length + status.scrub.running.length;
    return {
      ...encodeScheduler(status),
      workers: { busy, idle: Math.max(0, status.workerLimit - busy) },
      jobs: jobCounts(view.jobs(), now()),
    };
  });

  app.get('/v1/jobs', async () => {
    const at = now();
    return { jobs: view.jobs().map((job) => jobRecord(job, at)) };
  });

  app.get<{ Params: { job: string } }>('/v1/jobs/:job', async (request, reply) => {
    const detail = await view.jobDetail(request.params.job);
    if (!detail) return sendError(reply, 'JOB_NOT_FOUND', `no job named "${request.params.job}"`);
    return {
      ...jobRecord(detail.job, now()),
      revisions: detail.revisions,
      recent_failures: detail.failures.map((failure) => ({ at: failure.at.toISOString(), reason: failure.reason })),
    };
  });

  app.post<{ Params: { job: string } }>('/v1/jobs/:job/run', async (request, reply) => {
    const name = request.params.job;
    const tags = view.jobs().find((job) => job.name === name)?.nextTags ?? [];
    const outcome = view.runJob(name);
    const client = clientOf(request);
    if (!outcome.ok) {
      // The name is the client's, not a job's: a line break in it would forge a line of the log.
      logger.info(`http: ${client} asked for a backup of job ${printable(name)}: refused (${printable(outcome.reason)})`);
      return sendError(reply, outcome.code ?? 'JOB_RUNNING', outcome.reason);
    }
    logger.info(`http: ${client} asked for a backup of job ${name}: queued`);
    return reply.code(202).send({ job: name, queued: true, tags });
  });

  app.post('/v1/reload', async (request, reply) => {
    logger.info(`http: ${clientOf(request)} asked to reload the configuration`);
    const outcome = await view.reload();
    if (!outcome.ok) return sendError(reply, 'RELOAD_FAILED', outcome.reason);
    return { reloaded: true };
  });
}
