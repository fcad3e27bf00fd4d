import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiKeyRecord, MetadataStore, Role } from '../store/store.ts';

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Keys are stored as their sha256 only; the key itself is shown once, when it is made. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function generateKey(): string {
  return `inlet_${randomBytes(32).toString('base64url')}`;
}

/**
 * On a service with no keys yet: registers INLET_ADMIN_KEY as the admin key, or makes one
 * and returns it so it can be printed once. Returns undefined when keys already exist.
 */
export async function bootstrapAdminKey(
  store: MetadataStore,
  fromEnv: string | undefined,
): Promise<{ key: string; generated: boolean } | undefined> {
  if ((await store.countApiKeys()) > 0) {
    if (fromEnv && !(await store.findApiKey(hashKey(fromEnv)))) {
      await store.createApiKey({
        keyId: randomUUID(),
        name: 'admin (INLET_ADMIN_KEY)',
        role: 'admin',
        createdAt: new Date().toISOString(),
        keyHash: hashKey(fromEnv),
      });
    }
    return undefined;
  }
  const key = fromEnv ?? generateKey();
  await store.createApiKey({
    keyId: randomUUID(),
    name: 'bootstrap admin',
    role: 'admin',
    createdAt: new Date().toISOString(),
    keyHash: hashKey(key),
  });
  return { key, generated: fromEnv === undefined };
}

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKeyRecord;
  }
  interface FastifyContextConfig {
    /** The least role a route needs; routes without one are public (docs only). */
    role?: Role;
  }
}

/** An onRequest hook (before any body is parsed): 401 without a valid `Authorization: Bearer <key>`, 403 when the key's role is too low. */
export function requireRole(store: MetadataStore) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const needed = request.routeOptions.config.role;
    if (!needed) return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const key = match ? await store.findApiKey(hashKey(match[1])) : undefined;
    if (!key) {
      return reply.code(401).send({
        statusCode: 401,
        code: 'INLET_E_AUTH',
        error: 'Unauthorized',
        message: 'a valid API key is required (Authorization: Bearer <key>)',
      });
    }
    if (RANK[key.role] < RANK[needed]) {
      return reply.code(403).send({
        statusCode: 403,
        code: 'INLET_E_FORBIDDEN',
        error: 'Forbidden',
        message: `this needs the ${needed} role; the key has ${key.role}`,
      });
    }
    request.apiKey = key;
  };
}
