import { z } from 'zod';
import { ident } from '../sql.ts';
import { requireColumn } from './columns.ts';
import { nextRelation, type Relation, type StepContext } from './relation.ts';

export const selectSchema = z
  .array(z.string().min(1))
  .min(1)
  .describe('Keeps only these columns, in this order.');
export const dropSchema = z.array(z.string().min(1)).min(1).describe('Removes these columns.');

export function compileSelect(input: Relation, config: string[], context: StepContext): string {
  const columns = config.map((name, i) =>
    ident(requireColumn(input.columns, name, `${context.path}[${i}]`).name),
  );
  return nextRelation(input, columns);
}

export function compileDrop(input: Relation, config: string[], context: StepContext): string {
  for (const [i, name] of config.entries()) requireColumn(input.columns, name, `${context.path}[${i}]`);
  return nextRelation(
    input,
    input.columns.filter((c) => !config.includes(c.name)).map((c) => ident(c.name)),
  );
}
