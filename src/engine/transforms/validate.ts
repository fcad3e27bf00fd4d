import { z } from 'zod';
import { ident, literal, quotedValue } from '../sql.ts';
import { requireColumn } from './columns.ts';
import { checkExpression } from './expression.ts';
import {
  FLAGS,
  LIVE,
  nextRelation,
  passThrough,
  type Rejection,
  type Relation,
  type StepContext,
} from './relation.ts';

export const validateSchema = z
  .object({
    rules: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'SQL predicates every row must satisfy; a rule that is false rejects the row (NULL passes, as in SQL CHECK).',
      ),
    required: z.array(z.string().min(1)).default([]).describe('Columns that must be present and non-empty.'),
    unique: z
      .array(z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]))
      .default([])
      .describe(
        'Keys (a column, or a list of columns) that must be unique within a unit; later duplicates are rejected.',
      ),
    on_fail: z
      .enum(['quarantine', 'fail'])
      .default('quarantine')
      .describe(
        'quarantine: rejected rows go to quarantine and the rest load; fail: any rejected row fails the unit.',
      ),
  })
  .strict()
  .describe('Checks rows against rules; the first rule a row breaks is recorded with it.');

export async function compileValidate(
  input: Relation,
  config: z.output<typeof validateSchema>,
  context: StepContext,
): Promise<string> {
  const rejections: Rejection[] = [];
  config.required.forEach((name, i) => {
    requireColumn(input.columns, name, `${context.path}.required[${i}]`);
    rejections.push({
      when: `NULLIF(trim(CAST(${ident(name)} AS VARCHAR)), '') IS NULL`,
      rule: literal(`required: ${name}`),
      reason: literal(`${name} is missing`),
    });
  });
  for (const [i, rule] of config.rules.entries()) {
    const sql = await checkExpression(context.session, rule, `${context.path}.rules[${i}]`);
    rejections.push({
      when: `NOT coalesce(${sql}, true)`,
      rule: literal(`rule: ${rule}`),
      reason: literal(`rule failed: ${rule}`),
    });
  }
  // Uniqueness is judged among rows still alive, first occurrence kept: a window per key.
  const windows: string[] = [];
  config.unique.forEach((key, i) => {
    const names = Array.isArray(key) ? key : [key];
    for (const name of names) requireColumn(input.columns, name, `${context.path}.unique[${i}]`);
    const partition = names.map(ident).join(', ');
    windows.push(
      `CASE WHEN ${LIVE} THEN row_number() OVER (PARTITION BY ${LIVE}, ${partition} ORDER BY ${FLAGS.row}) END AS __inlet_dup_${i}`,
    );
    rejections.push({
      when: `__inlet_dup_${i} > 1`,
      rule: literal(`unique: ${names.join(', ')}`),
      reason: `'duplicate ${names.join(', ')} ' || ${names.map((n) => `coalesce(${quotedValue(ident(n))}, 'NULL')`).join(` || ', ' || `)}`,
    });
  });
  const source: Relation = windows.length
    ? { sql: `SELECT *, ${windows.join(', ')} FROM (${input.sql}) AS w`, columns: input.columns }
    : input;
  return nextRelation(source, passThrough(input.columns), {
    reject: rejections,
    fatal: config.on_fail === 'fail',
  });
}
