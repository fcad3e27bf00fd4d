import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createReplaySource, replayable } from '../../connectors/quarantine/replay-source.ts';
import { InletError } from '../../core/errors.ts';
import { readQuarantine } from '../../engine/quarantine-reader.ts';
import { apiResponseSummary, buildReport, reportCsv } from '../../engine/report.ts';
import type { RunStatus } from '../../store/store.ts';
import type { ApiDeps } from '../app.ts';

const runParams = {
  type: 'object',
  properties: { run_id: { type: 'string', maxLength: 64 } },
  required: ['run_id'],
} as const;
interface TriggerRequest {
  /** Overrides of job values by path, like `inlet run --set`. */
  parameters: Record<string, unknown>;
  /** Ingest units again even when the ledger has them, like `inlet run --reprocess`. */
  reprocess: boolean;
}

/** `{parameters?: {path: value}, reprocess?: boolean}`, or no body at all. */
function triggerOf(body: unknown): TriggerRequest {
  if (body === undefined || body === '') return { parameters: {}, reprocess: false };
  const wrong = () =>
    new InletError(
      'INLET_E_REQUEST',
      'the body is {"parameters": {"<path>": <value>, …}, "reprocess": true|false} or empty',
    );
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw wrong();
  const { parameters = {}, reprocess = false, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length || typeof reprocess !== 'boolean') throw wrong();
  if (typeof parameters !== 'object' || parameters === null || Array.isArray(parameters)) throw wrong();
  return { parameters: parameters as Record<string, unknown>, reprocess };
}

/** Triggering runs and reading them. */
export async function runRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { store, launcher } = deps;

  /** Starts a run of a stored job; a repeated Idempotency-Key answers with the run it started before. */
  const trigger = async (
    request: FastifyRequest,
    reply: FastifyReply,
    jobId: string,
    { parameters, reprocess }: TriggerRequest,
  ) => {
    const job = await store.getJob(jobId);
    if (!job) throw new InletError('INLET_E_JOB_NOT_FOUND', `no job ${jobId}`);
    const idempotencyKey = request.headers['idempotency-key'];
    if (typeof idempotencyKey === 'string') {
      const earlier = await store.findRunRequest(jobId, idempotencyKey);
      if (earlier) return reply.code(202).send({ run_id: earlier, job_id: jobId, replayed: true });
    }
    const runId = await launcher.start(
      await launcher.resolveSpec(jobId, job.sourceText, parameters),
      launcher.baseDirOf(job),
      { reprocess, actor: request.apiKey?.name },
    );
    if (typeof idempotencyKey === 'string') await store.rememberRunRequest(jobId, idempotencyKey, runId);
    await deps.audit(request, 'run.triggered', jobId, 'ok', {
      run_id: runId,
      parameters: Object.keys(parameters),
    });
    return reply.code(202).header('location', `/runs/${runId}`).send({ run_id: runId, job_id: jobId });
  };

  app.post<{ Params: { job_id: string } }>(
    '/jobs/:job_id/runs',
    {
      config: { role: 'operator' },
      schema: { summary: 'Run a job now; body {parameters} optional', tags: ['runs'] },
    },
    (request, reply) => trigger(request, reply, request.params.job_id, triggerOf(request.body)),
  );

  app.post<{ Body: { job_id: string; parameters?: Record<string, unknown>; reprocess?: boolean } }>(
    '/jobs/execute',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Run a job now (the seed form)',
        tags: ['runs'],
        body: {
          type: 'object',
          properties: {
            job_id: { type: 'string' },
            parameters: { type: 'object' },
            reprocess: { type: 'boolean' },
          },
          required: ['job_id'],
          additionalProperties: false,
        },
      },
    },
    (request, reply) => {
      const { job_id: jobId, ...rest } = request.body;
      return trigger(request, reply, jobId, triggerOf(rest));
    },
  );

  app.get<{
    Querystring: { job?: string; status?: RunStatus; since?: string; limit: number; offset: number };
  }>(
    '/runs',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Runs, newest first',
        tags: ['runs'],
        querystring: {
          type: 'object',
          properties: {
            job: { type: 'string' },
            status: { type: 'string', enum: ['running', 'succeeded', 'failed', 'interrupted'] },
            since: { type: 'string', format: 'date-time' },
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            offset: { type: 'integer', minimum: 0, default: 0 },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const { limit, offset, ...filter } = request.query;
      const runs = await store.listRuns({ ...filter, limit, offset });
      return {
        runs: runs.map(publicRun),
        limit,
        offset,
        next_offset: runs.length === limit ? offset + limit : null,
      };
    },
  );

  app.get<{ Params: { run_id: string } }>(
    '/runs/:run_id',
    {
      config: { role: 'viewer' },
      schema: { summary: 'A run with its units and stage timings', tags: ['runs'], params: runParams },
    },
    async (request) => {
      const run = await store.getRun(request.params.run_id);
      if (!run) throw new InletError('INLET_E_RUN_NOT_FOUND', `no run ${request.params.run_id}`);
      const units = await store.listUnits(run.runId);
      const progress = launcher.progress(run.runId);
      return {
        ...publicRun(run),
        ...(progress ? { progress } : {}),
        units: units.map(({ manifest: _manifest, ...unit }) => unit),
      };
    },
  );

  app.get<{ Params: { run_id: string }; Querystring: { format?: 'json' | 'csv' } }>(
    '/runs/:run_id/report',
    {
      config: { role: 'viewer' },
      schema: {
        summary:
          'Reconciliation per file and per run: read, sent, succeeded, updated via routes, failed by code, quarantined',
        tags: ['runs'],
        params: runParams,
        querystring: {
          type: 'object',
          properties: { format: { type: 'string', enum: ['json', 'csv'] } },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const run = await store.getRun(request.params.run_id);
      if (!run) throw new InletError('INLET_E_RUN_NOT_FOUND', `no run ${request.params.run_id}`);
      const report = buildReport(run, await store.listUnits(run.runId));
      if (request.query.format !== 'csv') return report;
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="report-${run.runId}.csv"`)
        .send(reportCsv(report));
    },
  );

  app.get<{ Params: { run_id: string }; Querystring: { offset?: number; limit?: number } }>(
    '/runs/:run_id/calls',
    {
      config: { role: 'viewer' },
      schema: {
        summary:
          'Every API call an http sink made in the run: endpoint, attempt, status, request id, latency, outcome',
        tags: ['runs'],
        params: runParams,
        querystring: {
          type: 'object',
          properties: {
            offset: { type: 'integer', minimum: 0, default: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      if (!(await store.getRun(request.params.run_id)))
        throw new InletError('INLET_E_RUN_NOT_FOUND', `no run ${request.params.run_id}`);
      const calls = await store.listHttpCalls(request.params.run_id);
      const offset = request.query.offset ?? 0;
      const limit = request.query.limit ?? 1000;
      return {
        run_id: request.params.run_id,
        total: calls.length,
        calls: calls.slice(offset, offset + limit),
        summary: apiResponseSummary(calls),
      };
    },
  );

  app.get<{ Params: { run_id: string } }>(
    '/runs/:run_id/quarantine',
    {
      config: { role: 'viewer' },
      schema: { summary: "A run's rejected records with their reasons", tags: ['runs'], params: runParams },
    },
    async (request) => {
      if (!(await store.getRun(request.params.run_id)))
        throw new InletError('INLET_E_RUN_NOT_FOUND', `no run ${request.params.run_id}`);
      const records = await readQuarantine(store, deps.dataDir, request.params.run_id);
      return { run_id: request.params.run_id, count: records.length, records };
    },
  );

  app.post<{ Params: { run_id: string } }>(
    '/runs/:run_id/quarantine/replay',
    {
      config: { role: 'operator' },
      schema: {
        summary: "Run a run's quarantined records through the job's current transforms",
        tags: ['runs'],
        params: runParams,
      },
    },
    async (request, reply) => {
      const original = await store.getRun(request.params.run_id);
      if (!original) throw new InletError('INLET_E_RUN_NOT_FOUND', `no run ${request.params.run_id}`);
      if (original.status === 'running') {
        return reply.code(409).send({
          statusCode: 409,
          code: 'INLET_E_REQUEST',
          error: 'Conflict',
          message: 'the run is still running',
        });
      }
      const job = await store.getJob(original.job);
      if (!job) throw new InletError('INLET_E_JOB_NOT_FOUND', `job ${original.job} no longer exists`);
      const records = await readQuarantine(store, deps.dataDir, original.runId);
      const count = records.filter(replayable).length;
      const notReplayable = records.length - count;
      if (count === 0) {
        return reply.code(409).send({
          statusCode: 409,
          code: 'INLET_E_REQUEST',
          error: 'Conflict',
          message: `nothing to replay: ${notReplayable} record(s) never parsed (fix the file and ingest it again)`,
        });
      }
      const spec = await launcher.resolveSpec(job.jobId, job.sourceText);
      const source = createReplaySource(original.runId, records);
      const runId = await launcher.start(spec, launcher.baseDirOf(job), {
        actor: request.apiKey?.name,
        source,
      });
      await deps.audit(request, 'run.replayed', job.jobId, 'ok', {
        run_id: runId,
        replay_of: original.runId,
        records: count,
      });
      return reply
        .code(202)
        .send({ run_id: runId, replay_of: original.runId, records: count, not_replayable: notReplayable });
    },
  );

  app.post<{ Params: { run_id: string } }>(
    '/runs/:run_id/cancel',
    {
      config: { role: 'operator' },
      schema: { summary: 'Stop a running run (it ends interrupted)', tags: ['runs'], params: runParams },
    },
    async (request, reply) => {
      if (!(await store.getRun(request.params.run_id)))
        throw new InletError('INLET_E_RUN_NOT_FOUND', `no run ${request.params.run_id}`);
      if (!launcher.cancel(request.params.run_id)) {
        return reply.code(409).send({
          statusCode: 409,
          code: 'INLET_E_REQUEST',
          error: 'Conflict',
          message: `run ${request.params.run_id} is not running in this service`,
        });
      }
      await deps.audit(request, 'run.cancelled', request.params.run_id, 'ok');
      return reply.code(202).send({ run_id: request.params.run_id, cancelling: true });
    },
  );
}

function publicRun(run: Awaited<ReturnType<ApiDeps['store']['getRun']>> & object) {
  const {
    runId,
    job,
    status,
    startedAt,
    finishedAt,
    error,
    stageSeconds,
    received,
    written,
    quarantined,
    filtered,
  } = run;
  return {
    run_id: runId,
    job,
    status,
    started_at: startedAt,
    finished_at: finishedAt,
    error,
    counts: { received, written, quarantined, filtered },
    stage_seconds: stageSeconds,
  };
}
