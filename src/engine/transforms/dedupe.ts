import { z } from 'zod';
import { ident, literal } from '../sql.ts';
import { requireColumn } from './columns.ts';
import { FLAGS, LIVE, nextRelation, passThrough, type Relation, type StepContext } from './relation.ts';

export const dedupeSchema = z
  .union([
    z.array(z.string().min(1)).min(1),
    z
      .object({
        key: z.array(z.string().min(1)).min(1).describe('Columns that identify a record.'),
        keep: z
          .enum(['first', 'last'])
          .default('first')
          .describe('Which occurrence survives, in source order.'),
      })
      .strict(),
  ])
  .describe(
    'Removes duplicate rows by key within a unit (a list of key columns, or {key, keep}); removed rows count as filtered.',
  );

export function compileDedupe(
  input: Relation,
  config: z.output<typeof dedupeSchema>,
  context: StepContext,
): string {
  const { key, keep } = Array.isArray(config) ? { key: config, keep: 'first' as const } : config;
  for (const [i, name] of key.entries()) requireColumn(input.columns, name, `${context.path}.key[${i}]`);
  const order = `${FLAGS.row} ${keep === 'first' ? 'ASC' : 'DESC'}`;
  const ranked: Relation = {
    sql: `SELECT *, CASE WHEN ${LIVE} THEN row_number() OVER (PARTITION BY ${LIVE}, ${key.map(ident).join(', ')} ORDER BY ${order}) END AS __inlet_rank FROM (${input.sql}) AS d`,
    columns: input.columns,
  };
  return nextRelation(ranked, passThrough(input.columns), {
    dropWhen: '__inlet_rank > 1',
    dropBy: literal(`dedupe: ${key.join(', ')}`),
  });
}
