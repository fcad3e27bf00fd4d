import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../app.ts';

/** The audit log: every mutating call and every run start and end, hash-chained. */
export async function auditRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get<{
    Querystring: { actor?: string; action?: string; since?: string; limit: number; offset: number };
  }>(
    '/audit',
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Audit events, newest first, with the verification of their hash chain',
        tags: ['audit'],
        querystring: {
          type: 'object',
          properties: {
            actor: { type: 'string' },
            action: { type: 'string' },
            since: { type: 'string', format: 'date-time' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            offset: { type: 'integer', minimum: 0, default: 0 },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const events = await deps.store.listAudit(request.query);
      return { events, chain: await deps.store.verifyAuditChain() };
    },
  );
}

/** Alerts raised and how each delivery went. */
export async function alertRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get<{ Querystring: { job?: string; kind?: string; limit: number } }>(
    '/alerts',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Alerts raised, newest first, with their delivery',
        tags: ['alerts'],
        querystring: {
          type: 'object',
          properties: {
            job: { type: 'string' },
            kind: { type: 'string', enum: ['failure', 'zero_records', 'quarantine_ratio', 'freshness'] },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => ({ alerts: await deps.store.listAlerts(request.query) }),
  );
}
