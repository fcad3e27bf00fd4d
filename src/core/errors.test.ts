import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { ERROR_CODES } from './errors.ts';

it('docs/errors.md lists exactly the codes inlet raises, with their kinds', () => {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| `(INLET_E_[A-Z_]+)` \| (\w+) \|/gm)].map((m) => [m[1], m[2]]);
  assert.deepEqual(
    documented,
    Object.entries(ERROR_CODES).map(([code, { kind }]) => [code, kind]),
  );
});
