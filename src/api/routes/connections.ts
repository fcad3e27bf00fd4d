import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { SINKS, SOURCES } from '../../connectors/registry.ts';
import type { SinkSpec, SourceSpec } from '../../core/connector.ts';
import { InletError } from '../../core/errors.ts';
import { redactSecrets } from '../../core/redact.ts';
import { formatPath } from '../../engine/job-file.ts';
import type { ConnectionKind, StoredConnection } from '../../store/store.ts';
import type { ApiDeps } from '../app.ts';

const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' } },
  required: ['name'],
} as const;
const connectionBody = {
  type: 'object',
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' },
    type: { type: 'string' },
    config: { type: 'object' },
  },
  required: ['type', 'config'],
  additionalProperties: false,
} as const;

/**
 * Named connection settings (`/sources`, `/destinations`) that jobs use with
 * `connection: <name>`. Stored sealed (AES-256-GCM); secrets are never returned.
 */
export async function connectionRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  for (const [kind, path, specs] of [
    ['source', '/sources', SOURCES],
    ['destination', '/destinations', SINKS],
  ] as [ConnectionKind, string, (SourceSpec | SinkSpec)[]][]) {
    const tags = [path.slice(1)];
    const present = (stored: StoredConnection) => ({
      name: stored.name,
      type: stored.type,
      config: redactSecrets(JSON.parse(deps.secrets.open(stored.sealedConfig))),
      updated_at: stored.updatedAt,
    });
    const validate = (type: string, config: Record<string, unknown>) => {
      const spec = specs.find((s) => s.type === type);
      if (!spec)
        throw new InletError(
          'INLET_E_REQUEST',
          `no ${kind} connector of type ${type}; there are ${specs.map((s) => s.type).join(', ')}`,
        );
      // A connection holds part of a config (the job adds the rest), so every key is optional here.
      const result = (spec.config as unknown as z.ZodObject).partial().safeParse({ ...config, type });
      if (!result.success) {
        const problems = result.error.issues.map((issue) => ({
          path: formatPath(['config', ...issue.path]),
          line: null,
          message: issue.message,
        }));
        throw new InletError('INLET_E_REQUEST', `the ${kind} config is not valid for ${type}`, {
          details: { problems },
        });
      }
    };
    const save = async (name: string, body: { type: string; config: Record<string, unknown> }) => {
      validate(body.type, body.config);
      const { type: _type, ...config } = body.config;
      return deps.store.saveConnection({
        kind,
        name,
        type: body.type,
        sealedConfig: deps.secrets.seal(JSON.stringify(config)),
      });
    };

    app.get(
      path,
      { config: { role: 'viewer' }, schema: { summary: `List ${path.slice(1)}`, tags } },
      async () => (await deps.store.listConnections(kind)).map(present),
    );

    app.post<{ Body: { name: string; type: string; config: Record<string, unknown> } }>(
      path,
      {
        config: { role: 'admin' },
        schema: {
          summary: `Create a ${kind} connection`,
          tags,
          body: { ...connectionBody, required: ['name', 'type', 'config'] },
        },
      },
      async (request, reply) => {
        if (await deps.store.getConnection(kind, request.body.name)) {
          return reply.code(409).send({
            statusCode: 409,
            code: 'INLET_E_REQUEST',
            error: 'Conflict',
            message: `${kind} ${request.body.name} exists; PUT replaces it`,
          });
        }
        await save(request.body.name, request.body);
        await deps.audit(request, `${kind}.created`, request.body.name, 'ok');
        return reply.code(201).send(present((await deps.store.getConnection(kind, request.body.name))!));
      },
    );

    app.get<{ Params: { name: string } }>(
      `${path}/:name`,
      { config: { role: 'viewer' }, schema: { summary: `A ${kind} connection`, tags, params: nameParams } },
      async (request) => {
        const stored = await deps.store.getConnection(kind, request.params.name);
        if (!stored) throw new InletError('INLET_E_JOB_NOT_FOUND', `no ${kind} ${request.params.name}`);
        return present(stored);
      },
    );

    app.put<{ Params: { name: string }; Body: { type: string; config: Record<string, unknown> } }>(
      `${path}/:name`,
      {
        config: { role: 'admin' },
        schema: {
          summary: `Create or replace a ${kind} connection`,
          tags,
          params: nameParams,
          body: connectionBody,
        },
      },
      async (request) => {
        const created = await save(request.params.name, request.body);
        await deps.audit(request, `${kind}.${created ? 'created' : 'updated'}`, request.params.name, 'ok');
        return present((await deps.store.getConnection(kind, request.params.name))!);
      },
    );

    app.delete<{ Params: { name: string } }>(
      `${path}/:name`,
      {
        config: { role: 'admin' },
        schema: { summary: `Delete a ${kind} connection`, tags, params: nameParams },
      },
      async (request, reply) => {
        if (!(await deps.store.deleteConnection(kind, request.params.name)))
          throw new InletError('INLET_E_JOB_NOT_FOUND', `no ${kind} ${request.params.name}`);
        await deps.audit(request, `${kind}.deleted`, request.params.name, 'ok');
        return reply.code(204).send();
      },
    );
  }
}
