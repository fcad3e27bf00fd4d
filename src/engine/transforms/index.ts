import { z } from 'zod';
import { InletError } from '../../core/errors.ts';
import { castSchema, compileCast } from './cast.ts';
import { compileDedupe, dedupeSchema } from './dedupe.ts';
import { compileDerive, deriveSchema } from './derive.ts';
import { compileFilter, filterSchema } from './filter.ts';
import { compileMask, maskSchema } from './mask.ts';
import { describe, FLAGS, type Relation, type StepContext } from './relation.ts';
import { compileRename, renameSchema } from './rename.ts';
import { compileScript, scriptSchema } from './script.ts';
import { compileDrop, compileSelect, dropSchema, selectSchema } from './select.ts';
import { compileValidate, validateSchema } from './validate.ts';

export type { Relation, StepContext } from './relation.ts';
export { FLAGS, LIVE } from './relation.ts';

const stepSchemas = {
  rename: renameSchema,
  select: selectSchema,
  drop: dropSchema,
  cast: castSchema,
  derive: deriveSchema,
  filter: filterSchema,
  validate: validateSchema,
  mask: maskSchema,
  dedupe: dedupeSchema,
  script: scriptSchema,
};

export const TRANSFORM_NAMES = Object.keys(stepSchemas) as (keyof typeof stepSchemas)[];

/**
 * One transform step: an object with exactly one key naming the step. Modelled as an
 * object of optional keys (plus a one-key check) so that errors point at the step's own
 * option and editors can autocomplete step names.
 */
export const transformStepSchema = z
  .object(
    Object.fromEntries(TRANSFORM_NAMES.map((name) => [name, stepSchemas[name].optional()])) as {
      [K in keyof typeof stepSchemas]: z.ZodOptional<(typeof stepSchemas)[K]>;
    },
  )
  .strict()
  .superRefine((step, ctx) => {
    const keys = Object.keys(step).filter((key) => step[key as keyof typeof step] !== undefined);
    if (keys.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `a transform step has exactly one of ${TRANSFORM_NAMES.join(', ')}; found ${keys.length ? keys.join(', ') : 'none'}`,
      });
    }
  })
  .describe('One transform step, e.g. {rename: {a: b}} or {filter: "amount > 0"}.');

export type TransformStep = z.output<typeof transformStepSchema>;

/** The starting relation: a decoded unit's rows, each with its ordinal and no fate yet. */
export async function baseRelation(context: Pick<StepContext, 'session'>, table: string): Promise<Relation> {
  const sql = `SELECT *, rowid + 1 AS ${FLAGS.row}, NULL::VARCHAR AS ${FLAGS.rule}, NULL::VARCHAR AS ${FLAGS.reason}, NULL::VARCHAR AS ${FLAGS.drop}, false AS ${FLAGS.fatal} FROM ${table}`;
  return { sql, columns: await describe(context.session, sql) };
}

/** Compiles the job's transform steps, in order, over `input`. */
export async function compileTransforms(
  input: Relation,
  steps: readonly TransformStep[],
  context: Omit<StepContext, 'path' | 'tablePrefix'> & { tablePrefix: string },
): Promise<Relation> {
  let relation = input;
  for (const [index, step] of steps.entries()) {
    const name = TRANSFORM_NAMES.find((key) => step[key] !== undefined)!;
    const stepContext: StepContext = {
      ...context,
      path: `transforms[${index}].${name}`,
      tablePrefix: `${context.tablePrefix}_s${index}`,
    };
    relation = await compileStep(relation, step, name, stepContext);
  }
  return relation;
}

async function compileStep(
  input: Relation,
  step: TransformStep,
  name: keyof typeof stepSchemas,
  context: StepContext,
): Promise<Relation> {
  if (name === 'script') return compileScript(input, step.script!, context);
  const sql = await compileSqlStep(input, step, name, context);
  try {
    return { sql, columns: await describe(context.session, sql) };
  } catch (error) {
    // DuckDB binds the step here: a type mismatch or unknown name in the user's SQL surfaces now.
    const message = (error as Error).message.split('\n')[0];
    throw new InletError('INLET_E_EXPRESSION', `${context.path}: ${message}`, {
      cause: error,
      details: { path: context.path },
    });
  }
}

function compileSqlStep(
  input: Relation,
  step: TransformStep,
  name: keyof typeof stepSchemas,
  context: StepContext,
): string | Promise<string> {
  switch (name) {
    case 'rename':
      return compileRename(input, step.rename!, context);
    case 'select':
      return compileSelect(input, step.select!, context);
    case 'drop':
      return compileDrop(input, step.drop!, context);
    case 'cast':
      return compileCast(input, step.cast!, context);
    case 'derive':
      return compileDerive(input, step.derive!, context);
    case 'filter':
      return compileFilter(input, step.filter!, context);
    case 'validate':
      return compileValidate(input, step.validate!, context);
    case 'mask':
      return compileMask(input, step.mask!, context);
    case 'dedupe':
      return compileDedupe(input, step.dedupe!, context);
    default:
      throw new Error(`unreachable transform ${name}`);
  }
}
