import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { InletError } from '../core/errors.ts';

/**
 * Streaming AES-256-GCM for files at rest (archives, spool copies). A file is a header and
 * a sequence of chunks, each sealed on its own with a nonce made of a random per-file
 * prefix, the chunk's number and a last-chunk flag, and the header as associated data.
 * Memory stays at one chunk whatever the file size; reordered, dropped, truncated or
 * altered chunks fail authentication; and the header names the key id, so a rotated key
 * is asked for by name instead of producing garbage.
 *
 * Header: "INLETENC" | version 1 (1 byte) | key id length (1 byte) | key id (ASCII) |
 * nonce prefix (7 bytes) | chunk size (4 bytes, big-endian).
 */
const MAGIC = Buffer.from('INLETENC');
const VERSION = 1;
const TAG_BYTES = 16;
const PREFIX_BYTES = 7;
const DEFAULT_CHUNK = 64 * 1024;

/** The extension encrypted files get. */
export const ENCRYPTED_SUFFIX = '.enc';

/** A 32-byte key with the id recorded in every file it seals. */
export interface FileKey {
  id: string;
  key: Buffer;
}

/** Makes a FileKey from 32 raw bytes; the id is a hash prefix, so it names the key without revealing it. */
export function fileKey(key: Buffer): FileKey {
  if (key.length !== 32) {
    throw new InletError(
      'INLET_E_ENCRYPTION',
      `an encryption key must be 32 bytes (base64-encoded), not ${key.length}`,
    );
  }
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 12), key };
}

/** Reads a key given as base64 text (an environment variable's value or a key file's content). */
export function parseFileKey(text: string, where: string): FileKey {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]+=*$/.test(trimmed)) {
    throw new InletError('INLET_E_ENCRYPTION', `${where} is not a base64 key`);
  }
  try {
    return fileKey(Buffer.from(trimmed, 'base64'));
  } catch (error) {
    throw new InletError('INLET_E_ENCRYPTION', `${where}: ${(error as Error).message}`);
  }
}

/**
 * The key for encrypting files at rest: INLET_ENCRYPTION_KEY (base64), or the file named by
 * INLET_ENCRYPTION_KEY_FILE. Null when neither is set.
 */
export function fileKeyFromEnvironment(env: NodeJS.ProcessEnv = process.env): FileKey | null {
  if (env.INLET_ENCRYPTION_KEY) return parseFileKey(env.INLET_ENCRYPTION_KEY, 'INLET_ENCRYPTION_KEY');
  if (env.INLET_ENCRYPTION_KEY_FILE) {
    const path = env.INLET_ENCRYPTION_KEY_FILE;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new InletError('INLET_E_ENCRYPTION', `INLET_ENCRYPTION_KEY_FILE ${path} cannot be read`, {
        cause: error,
      });
    }
    return parseFileKey(text, `the key file ${path}`);
  }
  return null;
}

function nonce(prefix: Buffer, index: number, last: boolean): Buffer {
  const value = Buffer.alloc(12);
  prefix.copy(value, 0);
  value.writeUInt32BE(index, PREFIX_BYTES);
  value[11] = last ? 1 : 0;
  return value;
}

/** A transform that encrypts whatever passes through it. */
export function encryptStream(key: FileKey, chunkSize = DEFAULT_CHUNK): Transform {
  const prefix = randomBytes(PREFIX_BYTES);
  const id = Buffer.from(key.id, 'ascii');
  const size = Buffer.alloc(4);
  size.writeUInt32BE(chunkSize);
  const header = Buffer.concat([MAGIC, Buffer.from([VERSION, id.length]), id, prefix, size]);
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  const seal = (plain: Buffer, last: boolean): Buffer => {
    const cipher = createCipheriv('aes-256-gcm', key.key, nonce(prefix, index++, last));
    cipher.setAAD(header);
    return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  };
  let headerSent = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      if (!headerSent) {
        this.push(header);
        headerSent = true;
      }
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      // Keep at least one byte back: only the final chunk may be sealed as last.
      while (pending.length > chunkSize) {
        this.push(seal(pending.subarray(0, chunkSize), false));
        pending = pending.subarray(chunkSize);
      }
      done();
    },
    flush(done: TransformCallback) {
      if (!headerSent) this.push(header);
      this.push(seal(pending, true));
      done();
    },
  });
}

/** Reads the key id from the start of an encrypted file, or null when it is not one. */
export function encryptedKeyId(head: Buffer): string | null {
  if (head.length < MAGIC.length + 2 || !head.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  const length = head[MAGIC.length + 1];
  return head.subarray(MAGIC.length + 2, MAGIC.length + 2 + length).toString('ascii');
}

/** A transform that decrypts a file encryptStream wrote, with one of the given keys (chosen by id). */
export function decryptStream(keys: readonly FileKey[]): Transform {
  let buffered: Buffer = Buffer.alloc(0);
  let header: Buffer | null = null;
  let key: FileKey | undefined;
  let prefix: Buffer = Buffer.alloc(0);
  let sealedChunk = 0;
  let index = 0;
  const fail = (message: string) => new InletError('INLET_E_ENCRYPTION', message);
  const open = (sealed: Buffer, last: boolean): Buffer => {
    if (!key || !header) throw fail('not an inlet-encrypted file');
    const decipher = createDecipheriv('aes-256-gcm', key.key, nonce(prefix, index++, last));
    decipher.setAAD(header);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      return Buffer.concat([
        decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw fail(`chunk ${index - 1} failed authentication: the file was altered or truncated`);
    }
  };
  const readHeader = (): boolean => {
    const fixed = MAGIC.length + 2;
    if (buffered.length < fixed) return false;
    const keyId = encryptedKeyId(buffered);
    if (keyId === null) throw fail('not an inlet-encrypted file (no INLETENC header)');
    if (buffered[MAGIC.length] !== VERSION)
      throw fail(`unknown encryption format version ${buffered[MAGIC.length]}`);
    const length = fixed + keyId.length + PREFIX_BYTES + 4;
    if (buffered.length < length) return false;
    header = buffered.subarray(0, length);
    key = keys.find((k) => k.id === keyId);
    if (!key) {
      throw fail(
        `the file was encrypted with key ${keyId}, but the key given is ${keys.map((k) => k.id).join(', ') || 'none'}`,
      );
    }
    prefix = header.subarray(fixed + keyId.length, fixed + keyId.length + PREFIX_BYTES);
    sealedChunk = header.readUInt32BE(length - 4) + TAG_BYTES;
    buffered = buffered.subarray(length);
    return true;
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      try {
        buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
        if (!header && !readHeader()) return done();
        // A chunk is known not to be the last only once more bytes follow it.
        while (buffered.length > sealedChunk) {
          this.push(open(buffered.subarray(0, sealedChunk), false));
          buffered = buffered.subarray(sealedChunk);
        }
        done();
      } catch (error) {
        done(error as Error);
      }
    },
    flush(done: TransformCallback) {
      try {
        if (!header) throw fail('not an inlet-encrypted file (too short)');
        if (buffered.length < TAG_BYTES) throw fail('the file is truncated');
        this.push(open(buffered, true));
        done();
      } catch (error) {
        done(error as Error);
      }
    },
  });
}
