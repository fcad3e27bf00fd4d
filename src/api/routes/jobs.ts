import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { InletError } from '../../core/errors.ts';
import { redactSecrets } from '../../core/redact.ts';
import type { JobVersion } from '../../store/store.ts';
import type { ApiDeps } from '../app.ts';

const jobParams = {
  type: 'object',
  properties: { job_id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' } },
  required: ['job_id'],
} as const;

/** The job as stored, shown with `${VARS}` unexpanded and secret values hidden. */
function present(job: JobVersion) {
  return {
    job_id: job.jobId,
    version: job.version,
    updated_at: job.createdAt,
    updated_by: job.createdBy,
    spec: redactSecrets(parseYaml(job.sourceText)),
  };
}

/** The body as job text: YAML arrives as a string, JSON as an object (JSON is YAML too). */
function bodyText(request: FastifyRequest): string {
  if (typeof request.body === 'string') return request.body;
  if (request.body && typeof request.body === 'object') return JSON.stringify(request.body);
  throw new InletError(
    'INLET_E_REQUEST',
    'the body must be a job spec, as JSON or YAML (Content-Type: application/yaml)',
  );
}

/** Job definitions: every change is a new version; deleting keeps history and runs. */
export async function jobRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const { store, launcher } = deps;
  const read = { config: { role: 'viewer' as const } };
  const write = { config: { role: 'admin' as const } };

  /** Validates the body and stores it as the job's next version. */
  const save = async (
    request: FastifyRequest,
    text: string,
    name: string,
    action: 'job.created' | 'job.updated',
  ) => {
    await store.saveJobVersion(name, text, request.apiKey?.name ?? 'unknown');
    const job = (await store.getJob(name))!;
    await deps.audit(request, action, name, 'ok', { version: job.version });
    return present(job);
  };

  app.get('/jobs', { ...read, schema: { summary: 'List jobs', tags: ['jobs'] } }, async () =>
    (await store.listJobs()).map(present),
  );

  app.post(
    '/jobs',
    { ...write, schema: { summary: 'Create a job (JSON or YAML body)', tags: ['jobs'] } },
    async (request, reply) => {
      const text = bodyText(request);
      const { name } = await launcher.resolveSpec('new job', text);
      if (await store.getJob(name)) {
        return reply.code(409).send({
          statusCode: 409,
          code: 'INLET_E_REQUEST',
          error: 'Conflict',
          message: `job ${name} exists; PUT /jobs/${name} makes a new version`,
        });
      }
      return reply.code(201).send(await save(request, text, name, 'job.created'));
    },
  );

  app.get<{ Params: { job_id: string } }>(
    '/jobs/:job_id',
    { ...read, schema: { summary: 'A job, current version', tags: ['jobs'], params: jobParams } },
    async (request) => {
      const job = await store.getJob(request.params.job_id);
      if (!job) throw new InletError('INLET_E_JOB_NOT_FOUND', `no job ${request.params.job_id}`);
      return present(job);
    },
  );

  app.put<{ Params: { job_id: string } }>(
    '/jobs/:job_id',
    {
      ...write,
      schema: { summary: 'Create or replace a job: a new version', tags: ['jobs'], params: jobParams },
    },
    async (request) => {
      const text = bodyText(request);
      const { name } = await launcher.resolveSpec(request.params.job_id, text);
      if (name !== request.params.job_id) {
        throw new InletError(
          'INLET_E_REQUEST',
          `the job's name "${name}" differs from the job id "${request.params.job_id}" in the path`,
        );
      }
      return save(request, text, name, 'job.updated');
    },
  );

  app.delete<{ Params: { job_id: string } }>(
    '/jobs/:job_id',
    {
      ...write,
      schema: { summary: 'Delete a job (its versions and runs are kept)', tags: ['jobs'], params: jobParams },
    },
    async (request, reply) => {
      if (!(await store.deleteJob(request.params.job_id)))
        throw new InletError('INLET_E_JOB_NOT_FOUND', `no job ${request.params.job_id}`);
      await deps.audit(request, 'job.deleted', request.params.job_id, 'ok');
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { job_id: string } }>(
    '/jobs/:job_id/versions',
    { ...read, schema: { summary: "A job's versions", tags: ['jobs'], params: jobParams } },
    async (request) => {
      const versions = await store.listJobVersions(request.params.job_id);
      if (!versions.length) throw new InletError('INLET_E_JOB_NOT_FOUND', `no job ${request.params.job_id}`);
      return versions.map(present);
    },
  );
}
