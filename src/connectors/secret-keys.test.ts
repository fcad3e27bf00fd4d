import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { z } from 'zod';
import { SECRET_KEYS } from '../core/redact.ts';
import { SINKS, SOURCES, STORES } from './registry.ts';

it('redacts every connector key documented as a secret', () => {
  const documented = new Set<string>();
  for (const spec of [...SOURCES, ...SINKS, ...STORES]) {
    const shape = (spec.config as z.ZodObject).shape;
    for (const [key, schema] of Object.entries(shape)) {
      if (/\bsecret\b/i.test((schema as z.ZodType).description ?? '')) documented.add(key);
    }
  }
  assert.ok(documented.has('password') && documented.has('secret_access_key'), [...documented].join());
  assert.deepEqual(
    [...documented].filter((key) => !SECRET_KEYS.includes(key)),
    [],
    'keys described as secrets but not redacted',
  );
});
