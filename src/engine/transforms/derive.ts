import { z } from 'zod';
import { ident } from '../sql.ts';
import { checkExpression } from './expression.ts';
import { nextRelation, type Relation, type StepContext } from './relation.ts';

export const deriveSchema = z
  .record(z.string(), z.string().min(1))
  .describe('Adds or replaces columns from SQL expressions over the row: {column: expression}.');

export async function compileDerive(
  input: Relation,
  config: z.output<typeof deriveSchema>,
  context: StepContext,
): Promise<string> {
  const derived = new Map<string, string>();
  for (const [name, expression] of Object.entries(config)) {
    derived.set(name, await checkExpression(context.session, expression, `${context.path}.${name}`));
  }
  const columns = input.columns.map((c) =>
    derived.has(c.name) ? `${derived.get(c.name)} AS ${ident(c.name)}` : ident(c.name),
  );
  for (const [name, sql] of derived)
    if (!input.columns.some((c) => c.name === name)) columns.push(`${sql} AS ${ident(name)}`);
  return nextRelation(input, columns);
}
