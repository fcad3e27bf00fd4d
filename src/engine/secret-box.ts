import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InletError } from '../core/errors.ts';

/**
 * Encrypts small secrets (connection configs) with AES-256-GCM. The key comes from
 * INLET_SECRET_KEY (32 bytes, base64) or, failing that, from `<data dir>/secret.key`,
 * made once with mode 0600. Each value records the id of the key that sealed it, so a
 * rotated key is recognised instead of producing garbage.
 */
export class SecretBox {
  readonly #key: Buffer;
  readonly keyId: string;

  constructor(key: Buffer) {
    if (key.length !== 32)
      throw new InletError('INLET_E_USAGE', 'the secret key must be 32 bytes (base64 in INLET_SECRET_KEY)');
    this.#key = key;
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 12);
  }

  static fromEnvironment(dataDir: string, env: NodeJS.ProcessEnv = process.env): SecretBox {
    if (env.INLET_SECRET_KEY) return new SecretBox(Buffer.from(env.INLET_SECRET_KEY, 'base64'));
    const file = join(dataDir, 'secret.key');
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    }
    return new SecretBox(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'));
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      'v1',
      this.keyId,
      iv.toString('base64'),
      cipher.getAuthTag().toString('base64'),
      sealed.toString('base64'),
    ].join(':');
  }

  open(value: string): string {
    const [version, keyId, iv, tag, sealed] = value.split(':');
    if (version !== 'v1' || !sealed) throw new InletError('INLET_E_INTERNAL', 'not a sealed value');
    if (keyId !== this.keyId) {
      throw new InletError(
        'INLET_E_USAGE',
        `this secret was sealed with key ${keyId}, but the key in use is ${this.keyId}`,
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64')), decipher.final()]).toString('utf8');
  }
}
