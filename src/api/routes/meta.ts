import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CONNECTORS } from '../../connectors/registry.ts';
import type { ApiDeps } from '../app.ts';

/** Liveness, readiness and the connector catalogue. */
export async function metaRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get(
    '/health',
    { config: { role: 'viewer' }, schema: { summary: 'Liveness', tags: ['service'] } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/ready',
    {
      config: { role: 'viewer' },
      schema: { summary: 'Readiness: the metadata store answers', tags: ['service'] },
    },
    async (_request, reply) => {
      try {
        await deps.store.countApiKeys();
        return { status: 'ready' };
      } catch (error) {
        return reply.code(503).send({
          statusCode: 503,
          code: 'INLET_E_IO',
          error: 'Service Unavailable',
          message: `metadata store: ${(error as Error).message}`,
        });
      }
    },
  );

  app.get(
    '/connectors',
    {
      config: { role: 'viewer' },
      schema: { summary: 'Every connector with its JSON Schema', tags: ['connectors'] },
    },
    async () =>
      CONNECTORS.map((c) => ({
        kind: c.kind,
        type: c.type,
        summary: c.summary,
        schema: z.toJSONSchema(c.config, { target: 'draft-7', io: 'input', unrepresentable: 'any' }),
      })),
  );
}
