import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InletError } from '../../core/errors.ts';
import { runLogPath } from '../../observability/logger.ts';
import type { ApiDeps } from '../app.ts';

async function logLines(dataDir: string, runId: string): Promise<string[]> {
  const text = await readFile(runLogPath(dataDir, runId), 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.trim() !== '');
}

/** A run's structured log events: a page at a time, or followed live as server-sent events. */
export async function logRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get<{ Params: { run_id: string }; Querystring: { offset: number; limit: number; follow: boolean } }>(
    '/runs/:run_id/logs',
    {
      config: { role: 'viewer' },
      schema: {
        summary: "A run's log events; ?follow=true (or Accept: text/event-stream) streams them as they come",
        tags: ['runs'],
        params: {
          type: 'object',
          properties: { run_id: { type: 'string', maxLength: 64 } },
          required: ['run_id'],
        },
        querystring: {
          type: 'object',
          properties: {
            offset: { type: 'integer', minimum: 0, default: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            follow: { type: 'boolean', default: false },
          },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const { run_id: runId } = request.params;
      if (!(await deps.store.getRun(runId))) throw new InletError('INLET_E_RUN_NOT_FOUND', `no run ${runId}`);
      if (request.query.follow || request.headers.accept === 'text/event-stream')
        return follow(request, reply, deps, runId);
      const { offset, limit } = request.query;
      const lines = await logLines(deps.dataDir, runId);
      const events = lines.slice(offset, offset + limit).map((line) => JSON.parse(line));
      return {
        run_id: runId,
        events,
        offset,
        next_offset: offset + events.length < lines.length ? offset + events.length : null,
      };
    },
  );
}

/** Streams log events from `offset` as they are written, until the run has ended and all are sent. */
async function follow(
  request: FastifyRequest<{ Querystring: { offset: number } }>,
  reply: FastifyReply,
  deps: ApiDeps,
  runId: string,
) {
  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  let closed = false;
  request.raw.on('close', () => {
    closed = true;
  });
  let sent = request.query.offset;
  while (!closed) {
    const running = deps.launcher.isRunning(runId);
    const lines = await logLines(deps.dataDir, runId);
    for (; sent < lines.length; sent++) out.write(`id: ${sent}\ndata: ${lines[sent]}\n\n`);
    if (!running) break;
    await sleep(250);
  }
  if (!closed) out.end('event: end\ndata: {}\n\n');
}
