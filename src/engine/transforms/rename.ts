import { z } from 'zod';
import { ident } from '../sql.ts';
import { requireColumn } from './columns.ts';
import { nextRelation, type Relation, type StepContext } from './relation.ts';

export const renameSchema = z
  .record(z.string(), z.string().min(1))
  .describe('Renames columns: {old_name: new_name}.');

export function compileRename(
  input: Relation,
  config: z.output<typeof renameSchema>,
  context: StepContext,
): string {
  for (const from of Object.keys(config)) requireColumn(input.columns, from, `${context.path}.${from}`);
  const columns = input.columns.map((c) =>
    c.name in config ? `${ident(c.name)} AS ${ident(config[c.name])}` : ident(c.name),
  );
  return nextRelation(input, columns);
}
