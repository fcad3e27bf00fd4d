import { z } from 'zod';
import { ident, literal } from '../sql.ts';
import { requireColumn } from './columns.ts';
import { nextRelation, type Relation, type StepContext } from './relation.ts';

const sha256Method = z
  .object({
    method: z.literal('sha256'),
    salt: z
      .string()
      .min(8)
      .describe('Secret salt prepended before hashing (unsalted hashes of e-mails are reversible).'),
  })
  .strict();
const redactMethod = z.object({ method: z.literal('redact') }).strict();
const partialMethod = z
  .object({
    method: z.literal('partial'),
    keep_last: z.number().int().min(0).default(4).describe('Characters kept at the end.'),
    keep_first: z.number().int().min(0).default(0).describe('Characters kept at the start.'),
    mask_char: z.string().length(1).default('*'),
  })
  .strict();

export const maskSchema = z
  .record(
    z.string(),
    z.union([
      z.enum(['redact', 'partial']),
      z.discriminatedUnion('method', [sha256Method, redactMethod, partialMethod]),
    ]),
  )
  .describe(
    'Masks personal data per column: sha256 (salted, keeps joinability), redact, or partial (keeps a few characters).',
  );

export function compileMask(
  input: Relation,
  config: z.output<typeof maskSchema>,
  context: StepContext,
): string {
  const masks = new Map<string, string>();
  for (const [name, spec] of Object.entries(config)) {
    requireColumn(input.columns, name, `${context.path}.${name}`);
    const value = `CAST(${ident(name)} AS VARCHAR)`;
    const method =
      spec === 'partial'
        ? partialMethod.parse({ method: spec })
        : spec === 'redact'
          ? { method: spec }
          : spec;
    switch (method.method) {
      case 'sha256':
        masks.set(name, `sha256(${literal(method.salt)} || ${value})`);
        break;
      case 'redact':
        masks.set(name, `CASE WHEN ${value} IS NULL THEN NULL ELSE '[REDACTED]' END`);
        break;
      case 'partial': {
        const kept = method.keep_first + method.keep_last;
        masks.set(
          name,
          `CASE WHEN length(${value}) <= ${kept} THEN repeat(${literal(method.mask_char)}, length(${value})) ` +
            `ELSE left(${value}, ${method.keep_first}) || repeat(${literal(method.mask_char)}, length(${value}) - ${kept}) || right(${value}, ${method.keep_last}) END`,
        );
        break;
      }
    }
  }
  return nextRelation(
    input,
    input.columns.map((c) =>
      masks.has(c.name) ? `${masks.get(c.name)} AS ${ident(c.name)}` : ident(c.name),
    ),
  );
}
