import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { InletError, type InletErrorCode, toInletError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';

const STATUS: Partial<Record<InletErrorCode, number>> = {
  INLET_E_AUTH: 401,
  INLET_E_FORBIDDEN: 403,
  INLET_E_JOB_NOT_FOUND: 404,
  INLET_E_RUN_NOT_FOUND: 404,
  INLET_E_JOB_LOCKED: 409,
};

function statusOf(error: InletError): number {
  return STATUS[error.code] ?? (error.kind === 'config' || error.kind === 'input' ? 400 : 500);
}

/** Every error answers as {statusCode, code, error, message} (plus `problems` for an invalid job); never a stack. */
export function errorHandler(logger: Logger) {
  return (error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    const fastifyStatus = (error as FastifyError).statusCode;
    if (!(error instanceof InletError) && fastifyStatus && fastifyStatus < 500) {
      // Fastify's own 4xx (schema validation, malformed JSON, unsupported media type, body too
      // large) and plugins' (the rate limiter's 429 keeps its INLET_E_ code).
      const own = (error as { code?: unknown }).code;
      const code = typeof own === 'string' && own.startsWith('INLET_E_') ? own : 'INLET_E_REQUEST';
      return reply.code(fastifyStatus).send({
        statusCode: fastifyStatus,
        code,
        error: httpName(fastifyStatus),
        message: error.message,
      });
    }
    const failure = toInletError(error);
    const statusCode = statusOf(failure);
    if (statusCode >= 500)
      logger.error({ url: request.url, code: failure.code, error: failure.message }, 'api.error');
    const problems = failure.details.problems;
    return reply.code(statusCode).send({
      statusCode,
      code: failure.code,
      error: httpName(statusCode),
      message:
        statusCode >= 500 && failure.kind === 'internal'
          ? 'internal error; see the service log'
          : failure.message,
      ...(problems ? { problems } : {}),
    });
  };
}

function httpName(status: number): string {
  return (
    {
      400: 'Bad Request',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'Not Found',
      405: 'Method Not Allowed',
      409: 'Conflict',
      429: 'Too Many Requests',
      413: 'Payload Too Large',
      415: 'Unsupported Media Type',
    }[status] ?? (status >= 500 ? 'Internal Server Error' : 'Bad Request')
  );
}
