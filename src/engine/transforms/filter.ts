import { z } from 'zod';
import { literal } from '../sql.ts';
import { checkExpression } from './expression.ts';
import { nextRelation, passThrough, type Relation, type StepContext } from './relation.ts';

export const filterSchema = z
  .string()
  .min(1)
  .describe('Keeps rows for which this SQL predicate is true; the others are counted as filtered.');

export async function compileFilter(
  input: Relation,
  predicate: string,
  context: StepContext,
): Promise<string> {
  const sql = await checkExpression(context.session, predicate, context.path);
  return nextRelation(input, passThrough(input.columns), {
    dropWhen: `NOT coalesce(${sql}, false)`,
    dropBy: literal(`filter: ${predicate}`),
  });
}
