import { InletError } from '../../core/errors.ts';
import type { AuthConfig } from './schema.ts';

/** Adds a call's credentials; OAuth2 client-credentials tokens are fetched once and reused until they expire. */
export interface Authenticator {
  apply(url: URL, headers: Headers, signal: AbortSignal): Promise<void>;
  /** Forgets a cached token after the API answered 401, so the next call fetches a new one. */
  invalidate(): void;
}

/** Renew a token this long before it expires, so no call leaves with a token about to lapse. */
const EXPIRY_MARGIN_MS = 30_000;

export function createAuthenticator(auth: AuthConfig): Authenticator {
  switch (auth.type) {
    case 'none':
      return { apply: async () => {}, invalidate: () => {} };
    case 'basic': {
      const value = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
      return { apply: async (_url, headers) => headers.set('authorization', value), invalidate: () => {} };
    }
    case 'bearer':
      return {
        apply: async (_url, headers) => headers.set('authorization', `Bearer ${auth.token}`),
        invalidate: () => {},
      };
    case 'api_key':
      return {
        apply: async (url, headers) => {
          if (auth.in === 'query') url.searchParams.set(auth.name, auth.api_key);
          else headers.set(auth.name, auth.api_key);
        },
        invalidate: () => {},
      };
    case 'oauth2_client_credentials':
      return oauth2(auth);
  }
}

function oauth2(auth: Extract<AuthConfig, { type: 'oauth2_client_credentials' }>): Authenticator {
  let token: Promise<{ value: string; expiresAt: number }> | undefined;
  const fetchToken = async (signal: AbortSignal) => {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scope) form.set('scope', auth.scope);
    const response = await fetch(auth.token_url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(auth.client_id)}:${encodeURIComponent(auth.client_secret)}`).toString('base64')}`,
      },
      body: form,
      signal,
    }).catch((error: unknown) => {
      throw new InletError(
        'INLET_E_REMOTE',
        `the token endpoint ${auth.token_url} is unreachable: ${(error as Error).message}`,
      );
    });
    if (response.status === 401 || response.status === 400 || response.status === 403) {
      throw new InletError(
        'INLET_E_REMOTE_AUTH',
        `the token endpoint ${auth.token_url} refused client ${auth.client_id} (HTTP ${response.status})`,
      );
    }
    if (!response.ok) {
      throw new InletError(
        'INLET_E_REMOTE',
        `the token endpoint ${auth.token_url} answered HTTP ${response.status}`,
      );
    }
    const body = (await response.json()) as { access_token?: string; expires_in?: number };
    if (!body.access_token) {
      throw new InletError(
        'INLET_E_REMOTE_AUTH',
        `the token endpoint ${auth.token_url} returned no access_token`,
      );
    }
    return {
      value: body.access_token,
      expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000 - EXPIRY_MARGIN_MS,
    };
  };
  return {
    async apply(_url, headers, signal) {
      const current = token && (await token.catch(() => undefined));
      if (!current || current.expiresAt <= Date.now()) {
        // Concurrent calls share one token request.
        token = fetchToken(signal);
        token.catch(() => {
          token = undefined;
        });
      }
      headers.set('authorization', `Bearer ${(await token!).value}`);
    },
    invalidate() {
      token = undefined;
    },
  };
}
