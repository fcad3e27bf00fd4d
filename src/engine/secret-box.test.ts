import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { SecretBox } from './secret-box.ts';

it('seals and opens secrets; tampering and a different key are detected', () => {
  const box = new SecretBox(randomBytes(32));
  const sealed = box.seal('{"password":"hunter2"}');
  assert.doesNotMatch(sealed, /hunter2/);
  assert.equal(box.open(sealed), '{"password":"hunter2"}');
  const parts = sealed.split(':');
  parts[4] = Buffer.from('tampered').toString('base64');
  assert.throws(() => box.open(parts.join(':')));
  assert.throws(() => new SecretBox(randomBytes(32)).open(sealed), /sealed with key/);
});

it('makes a key file once, readable by its owner only, and reuses it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'inlet-secret-'));
  const first = SecretBox.fromEnvironment(dir, {});
  assert.equal(statSync(join(dir, 'secret.key')).mode & 0o777, 0o600);
  assert.equal(SecretBox.fromEnvironment(dir, {}).keyId, first.keyId);
  const fromEnv = SecretBox.fromEnvironment(dir, { INLET_SECRET_KEY: randomBytes(32).toString('base64') });
  assert.notEqual(fromEnv.keyId, first.keyId);
});
