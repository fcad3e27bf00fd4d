import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { CONNECTORS, jobJsonSchema } from '../connectors/registry.ts';
import { ERROR_CODES } from '../core/errors.ts';
import { formatSchema } from '../formats/index.ts';
import { renderErrorsDoc, renderJobReference } from './reference-docs.ts';

const docs = join(import.meta.dirname, '..', '..', 'docs');

it('docs/errors.md and docs/job-reference.md are what `npm run docs` generates from the code', () => {
  assert.equal(
    readFileSync(join(docs, 'errors.md'), 'utf8'),
    renderErrorsDoc(ERROR_CODES),
    'run npm run docs',
  );
  assert.equal(
    readFileSync(join(docs, 'job-reference.md'), 'utf8'),
    renderJobReference(jobJsonSchema(), CONNECTORS, formatSchema.options),
    'run npm run docs',
  );
});
