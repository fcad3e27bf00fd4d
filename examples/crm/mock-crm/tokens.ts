import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Client credentials as presented to the token endpoint. */
export interface Credentials {
  grantType: string | undefined;
  clientId: string | undefined;
  clientSecret: string | undefined;
}

/** Reads credentials from HTTP Basic auth or from a form-encoded (or JSON) body; Basic wins. */
export function readCredentials(
  authorization: string | undefined,
  contentType: string | undefined,
  body: Buffer | undefined,
): Credentials {
  const text = body?.toString('utf8') ?? '';
  let fields: Record<string, unknown> = {};
  if (contentType?.includes('json')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null) fields = parsed as Record<string, unknown>;
    } catch {
      fields = {};
    }
  } else {
    fields = Object.fromEntries(new URLSearchParams(text));
  }
  const asText = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const credentials: Credentials = {
    grantType: asText(fields.grant_type),
    clientId: asText(fields.client_id),
    clientSecret: asText(fields.client_secret),
  };
  const basic = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) {
      credentials.clientId = formDecode(decoded.slice(0, colon));
      credentials.clientSecret = formDecode(decoded.slice(colon + 1));
    }
  }
  return credentials;
}

/** RFC 6749 §2.3.1 form-encodes the id and secret inside Basic auth; a malformed escape is taken literally. */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replaceAll('+', ' '));
  } catch {
    return value;
  }
}

/** Compares secrets in constant time, whatever their lengths. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Bearer tokens this server issued, each with its expiry. */
export class TokenIssuer {
  #expiries = new Map<string, number>();

  issue(now: number, ttlSeconds: number): string {
    const token = randomBytes(24).toString('base64url');
    this.#expiries.set(token, now + ttlSeconds * 1000);
    return token;
  }

  /** True when the `Authorization` header carries an issued, unexpired bearer token. */
  accepts(authorization: string | undefined, now: number): boolean {
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!bearer) return false;
    const expiry = this.#expiries.get(bearer[1]);
    if (expiry === undefined) return false;
    if (expiry <= now) {
      this.#expiries.delete(bearer[1]);
      return false;
    }
    return true;
  }
}
