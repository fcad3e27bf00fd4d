import assert from 'node:assert/strict';
import { it } from 'node:test';
import { redactSecrets } from './redact.ts';

it('hides every secret-named value at any depth and leaves the rest alone', () => {
  const config = {
    host: 'sftp.example.com',
    password: 'hunter2',
    nested: { Secret_Access_Key: 'abc', list: [{ token: 't', keep: 1 }] },
    mask: { email: { method: 'sha256', salt: 'pepper' } },
  };
  assert.deepEqual(redactSecrets(config), {
    host: 'sftp.example.com',
    password: '***',
    nested: { Secret_Access_Key: '***', list: [{ token: '***', keep: 1 }] },
    mask: { email: { method: 'sha256', salt: '***' } },
  });
  assert.equal(config.password, 'hunter2', 'the original is not changed');
});
