import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from '../core/logger.ts';
import type { SecretBox } from '../engine/secret-box.ts';
import type { InletMetrics } from '../observability/metrics.ts';
import type { MetadataStore } from '../store/store.ts';
import { hashKey, requireRole } from './auth.ts';
import { errorHandler } from './http-errors.ts';
import { alertRoutes, auditRoutes } from './routes/audit.ts';
import { connectionRoutes } from './routes/connections.ts';
import { jobRoutes } from './routes/jobs.ts';
import { logRoutes } from './routes/logs.ts';
import { metaRoutes } from './routes/meta.ts';
import { runRoutes } from './routes/runs.ts';
import type { RunLauncher } from './run-launcher.ts';

export interface ApiDeps {
  store: MetadataStore;
  launcher: RunLauncher;
  metrics: InletMetrics;
  /** Seals and opens connection configs. */
  secrets: SecretBox;
  /** Serve /metrics without an API key (for a Prometheus that cannot send one). */
  metricsPublic?: boolean;
  /** Requests a minute per API key (per address without one); default 600. */
  rateLimitPerMinute?: number;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: Buffer; key: Buffer };
  dataDir: string;
  logger: Logger;
  /** Records a mutating call in the audit log: who, what, on what, with what outcome. */
  audit(
    request: FastifyRequest,
    action: string,
    target: string,
    outcome: string,
    details?: Record<string, unknown>,
  ): Promise<void>;
}

/** The REST API as a Fastify instance, not yet listening; tests use app.inject(). */
export async function buildApp(deps: Omit<ApiDeps, 'audit'>): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, ...(deps.tls ? { https: deps.tls } : {}) });
  const full: ApiDeps = {
    ...deps,
    audit: (request, action, target, outcome, details) =>
      deps.store.appendAudit({
        actor: request.apiKey?.name ?? 'anonymous',
        action,
        target,
        outcome,
        details,
      }),
  };
  // Job specs may be posted as YAML; the route parses them with line numbers.
  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml'],
    { parseAs: 'string' },
    (_request, body, done) => done(null, body),
  );
  app.setErrorHandler(errorHandler(deps.logger));
  // Keyed by the key's hash so one client cannot starve the others, whatever address it uses.
  await app.register(rateLimit, {
    max: deps.rateLimitPerMinute ?? 600,
    timeWindow: '1 minute',
    keyGenerator: (request) => {
      const header = request.headers.authorization;
      return header ? `key:${hashKey(header)}` : `ip:${request.ip}`;
    },
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      code: 'INLET_E_RATE_LIMITED',
      error: 'Too Many Requests',
      message: `more than ${context.max} requests a minute; retry in ${context.after}`,
    }),
  });
  app.addHook('onRequest', requireRole(deps.store));
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'inlet',
        version: '0.1.0',
        description: 'Data ingestion service: jobs, runs, quarantine.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register((instance) => metaRoutes(instance, full));
  await app.register((instance) => jobRoutes(instance, full));
  await app.register((instance) => runRoutes(instance, full));
  await app.register((instance) => auditRoutes(instance, full));
  await app.register((instance) => alertRoutes(instance, full));
  await app.register((instance) => connectionRoutes(instance, full));
  await app.register((instance) => logRoutes(instance, full));
  app.get(
    '/metrics',
    {
      config: { role: deps.metricsPublic ? undefined : 'viewer' },
      schema: { summary: 'Prometheus metrics', tags: ['service'] },
    },
    async (_request, reply) =>
      reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );
  return app;
}
