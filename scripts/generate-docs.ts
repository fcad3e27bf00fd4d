/**
 * Writes the generated reference docs from their single sources: docs/errors.md from
 * ERROR_CODES and docs/job-reference.md from the job schema. `npm run docs` runs it;
 * tests fail when the committed files are stale.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderErrorsDoc, renderJobReference } from '../src/cli/reference-docs.ts';
import { CONNECTORS, jobJsonSchema } from '../src/connectors/registry.ts';
import { ERROR_CODES } from '../src/core/errors.ts';
import { formatSchema } from '../src/formats/index.ts';

const docs = join(import.meta.dirname, '..', 'docs');
writeFileSync(join(docs, 'errors.md'), renderErrorsDoc(ERROR_CODES));
writeFileSync(
  join(docs, 'job-reference.md'),
  renderJobReference(jobJsonSchema(), CONNECTORS, formatSchema.options),
);
