import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { InletError } from '../core/errors.ts';
import { decryptStream, encryptedKeyId, encryptStream, fileKey, parseFileKey } from './file-crypto.ts';

const key = fileKey(randomBytes(32));

async function seal(data: Buffer, chunkSize = 1024): Promise<Buffer> {
  // Fed in odd-sized pieces, as a network stream would.
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += 777) pieces.push(data.subarray(i, i + 777));
  return buffer(Readable.from(pieces).pipe(encryptStream(key, chunkSize)));
}

function unseal(data: Buffer, keys = [key]): Promise<Buffer> {
  return buffer(Readable.from([data.subarray(0, 5), data.subarray(5)]).pipe(decryptStream(keys)));
}

const encryptionError = (pattern: RegExp) => (error: unknown) =>
  error instanceof InletError && error.code === 'INLET_E_ENCRYPTION' && pattern.test(error.message);

describe('file encryption', () => {
  for (const size of [0, 1, 1023, 1024, 1025, 5000]) {
    it(`round-trips ${size} bytes`, async () => {
      const data = randomBytes(size);
      const sealed = await seal(data);
      // The plaintext must not show through (checked where a match by chance is impossible).
      if (size >= 64) assert.ok(!sealed.includes(data.subarray(0, 64)));
      assert.equal(encryptedKeyId(sealed), key.id);
      assert.ok((await unseal(sealed)).equals(data));
    });
  }

  it('refuses a file cut at a chunk boundary', async () => {
    const sealed = await seal(randomBytes(4096));
    const header = sealed.length - 4 * (1024 + 16) - 16;
    await assert.rejects(
      unseal(sealed.subarray(0, header + 2 * (1024 + 16))),
      encryptionError(/altered or truncated/),
    );
  });

  it('refuses an altered byte', async () => {
    const sealed = await seal(randomBytes(3000));
    sealed[sealed.length - 100] ^= 1;
    await assert.rejects(unseal(sealed), encryptionError(/failed authentication/));
  });

  it('names the key id a file needs when given another key', async () => {
    const sealed = await seal(randomBytes(10));
    const other = fileKey(randomBytes(32));
    await assert.rejects(
      unseal(sealed, [other]),
      encryptionError(new RegExp(`encrypted with key ${key.id}`)),
    );
  });

  it('rejects keys that are not 32 base64 bytes', () => {
    assert.throws(
      () => parseFileKey('short', 'INLET_ENCRYPTION_KEY'),
      encryptionError(/INLET_ENCRYPTION_KEY/),
    );
    assert.throws(
      () => parseFileKey(randomBytes(16).toString('base64'), 'INLET_ENCRYPTION_KEY'),
      encryptionError(/32 bytes/),
    );
  });
});
