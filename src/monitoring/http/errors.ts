import type { FastifyReply } from 'fastify';

/**
 * The API's stable error codes (README, "HTTP API"): scripts and tests rely
 * on the code and the status; the English message may improve.
 */
export const API_ERRORS = {
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  JOB_RUNNING: 409,
  JOB_SKIPPED: 409,
  RELOAD_FAILED: 422,
  BAD_REQUEST: 400,
  SHUTTING_DOWN: 503,
  INTERNAL: 500,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export function sendError(reply: FastifyReply, code: ApiErrorCode, error: string): FastifyReply {
  return reply.code(API_ERRORS[code]).type('application/json; charset=utf-8').send({ error, code });
}
