import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { InletError } from '../../core/errors.ts';
import { createAuthenticator } from './auth.ts';

const signal = new AbortController().signal;

async function applied(auth: Parameters<typeof createAuthenticator>[0]) {
  const url = new URL('https://api.example.com/v1/things');
  const headers = new Headers();
  await createAuthenticator(auth).apply(url, headers, signal);
  return { url: url.toString(), authorization: headers.get('authorization'), key: headers.get('x-api-key') };
}

describe('http sink authentication', () => {
  it('sends basic, bearer and API-key credentials where the API expects them', async () => {
    assert.equal(
      (await applied({ type: 'basic', username: 'ada', password: 'pw' })).authorization,
      `Basic ${Buffer.from('ada:pw').toString('base64')}`,
    );
    assert.equal((await applied({ type: 'bearer', token: 't0k' })).authorization, 'Bearer t0k');
    assert.equal(
      (await applied({ type: 'api_key', in: 'header', name: 'X-API-Key', api_key: 'k1' })).key,
      'k1',
    );
    const inQuery = await applied({ type: 'api_key', in: 'query', name: 'key', api_key: 'k 2' });
    assert.equal(inQuery.url, 'https://api.example.com/v1/things?key=k+2');
    assert.equal(inQuery.authorization, null);
    assert.equal((await applied({ type: 'none' })).authorization, null);
  });

  it('fetches an OAuth2 token once, reuses it, renews it after invalidate, and names a refused client', async () => {
    let issued = 0;
    const server = createServer((request, response) => {
      const basic = Buffer.from(String(request.headers.authorization).slice(6), 'base64').toString();
      if (basic !== 'inlet:s3cret') {
        response.writeHead(401).end('{"error":"invalid_client"}');
        return;
      }
      issued += 1;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ access_token: `token-${issued}`, expires_in: 3600 }));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    try {
      const auth = createAuthenticator({
        type: 'oauth2_client_credentials',
        token_url: tokenUrl,
        client_id: 'inlet',
        client_secret: 's3cret',
      });
      const bearer = async () => {
        const headers = new Headers();
        await auth.apply(new URL('https://api.example.com'), headers, signal);
        return headers.get('authorization');
      };
      assert.deepEqual(await Promise.all([bearer(), bearer(), bearer()]), Array(3).fill('Bearer token-1'));
      assert.equal(issued, 1, 'concurrent calls share one token request');
      auth.invalidate();
      assert.equal(await bearer(), 'Bearer token-2');

      const refused = createAuthenticator({
        type: 'oauth2_client_credentials',
        token_url: tokenUrl,
        client_id: 'inlet',
        client_secret: 'wrong',
      });
      await assert.rejects(
        refused.apply(new URL('https://api.example.com'), new Headers(), signal),
        (error: unknown) =>
          error instanceof InletError &&
          error.code === 'INLET_E_REMOTE_AUTH' &&
          /refused client inlet/.test(error.message) &&
          !error.message.includes('wrong'),
      );
    } finally {
      server.close();
    }
  });
});
