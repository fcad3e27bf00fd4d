import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { InletError } from '../../core/errors.ts';
import { createNdjsonWriter } from '../../formats/ndjson-writer.ts';
import { ident, literal } from '../sql.ts';
import { describe, FLAGS, LIVE, type Relation, type StepContext } from './relation.ts';

export const scriptSchema = z
  .object({
    module: z
      .string()
      .min(1)
      .describe('Path of a TypeScript or JavaScript module, relative to the job file.'),
    function: z.string().default('default').describe('Name of the exported function.'),
    batch_size: z.number().int().min(1).max(1_000_000).default(10_000).describe('Rows handed to one call.'),
  })
  .strict()
  .describe(
    'Runs an exported function over batches of rows for what SQL cannot say. It gets (rows, {reject}) and returns the rows to keep; ' +
      'rows it leaves out are counted as filtered, rows passed to reject(row, reason) are quarantined.',
  );

export type ScriptRow = Record<string, unknown>;
export interface ScriptHelpers {
  /** Quarantines a row the function was given, with a reason. */
  reject(row: ScriptRow, reason: string): void;
}
export type ScriptFunction = (
  rows: ScriptRow[],
  helpers: ScriptHelpers,
) => ScriptRow[] | Promise<ScriptRow[]>;

async function loadFunction(
  config: z.output<typeof scriptSchema>,
  context: StepContext,
): Promise<ScriptFunction> {
  const file = resolve(context.baseDir, config.module);
  let exported: unknown;
  try {
    exported = (await import(pathToFileURL(file).href))[config.function];
  } catch (error) {
    throw new InletError(
      'INLET_E_SCRIPT',
      `${context.path}.module: cannot load ${file}: ${(error as Error).message}`,
      {
        cause: error,
        details: { path: context.path },
      },
    );
  }
  if (typeof exported !== 'function') {
    throw new InletError(
      'INLET_E_SCRIPT',
      `${context.path}.function: ${file} exports no function named "${config.function}"`,
      {
        details: { path: context.path },
      },
    );
  }
  return exported as ScriptFunction;
}

/**
 * Runs the live rows through the user's function in batches. Rows already rejected or
 * filtered bypass the script and are carried over unchanged; the script's output is
 * staged as NDJSON and read back, columns keeping their earlier types where they still exist.
 */
export async function compileScript(
  input: Relation,
  config: z.output<typeof scriptSchema>,
  context: StepContext,
): Promise<Relation> {
  const fn = await loadFunction(config, context);
  const { session, tablePrefix: p } = context;
  await session.run(`CREATE OR REPLACE TABLE ${p}_in AS ${input.sql}`);
  const outputPath = join(context.spoolDir, `${p}_out.ndjson`);
  const out = createNdjsonWriter(outputPath);
  const rejected: ScriptOutcome['rejected'] = [];
  const userColumns = input.columns.map((c) => ident(c.name)).join(', ');
  const liveRows = `SELECT ${userColumns}${userColumns ? ', ' : ''}${FLAGS.row} FROM ${p}_in WHERE ${LIVE} ORDER BY ${FLAGS.row}`;
  let batch: ScriptRow[] = [];
  let given = 0;
  let kept = 0;
  const ordinals = new WeakMap<ScriptRow, unknown>();
  const flush = async () => {
    if (!batch.length) return;
    const inBatch = new Set(batch);
    const rejectedHere = new Set<ScriptRow>();
    const reject = (row: ScriptRow, reason: string) => {
      if (!inBatch.has(row))
        throw new InletError(
          'INLET_E_SCRIPT',
          `${context.path}: reject() was called with a row the function was not given`,
        );
      rejectedHere.add(row);
      rejected.push({ ordinal: ordinals.get(row), reason: String(reason) });
    };
    const result = await fn(batch, { reject });
    if (!Array.isArray(result))
      throw new InletError('INLET_E_SCRIPT', `${context.path}: the function must return an array of rows`);
    const returned = result.filter((row) => !rejectedHere.has(row));
    if (returned.length + rejectedHere.size > batch.length) {
      throw new InletError(
        'INLET_E_SCRIPT',
        `${context.path}: the function returned more rows than it was given; a script may change or drop rows, not add them`,
      );
    }
    for (const row of returned) out.write({ ...row, [FLAGS.row]: ordinals.get(row) ?? null });
    await out.flush(context.signal);
    given += batch.length;
    kept += returned.length;
    batch = [];
  };
  for await (const rows of session.stream(liveRows)) {
    for (const row of rows) {
      const ordinal = row[FLAGS.row];
      delete row[FLAGS.row];
      ordinals.set(row, ordinal);
      batch.push(row);
      if (batch.length >= config.batch_size) await flush();
    }
  }
  await flush();
  await out.close();
  return readBack(input, context, { outputPath, kept, rejected, filtered: given - kept - rejected.length });
}

interface ScriptOutcome {
  outputPath: string;
  kept: number;
  rejected: { ordinal: unknown; reason: string }[];
  filtered: number;
}

async function readBack(input: Relation, context: StepContext, outcome: ScriptOutcome): Promise<Relation> {
  const { session, tablePrefix: p } = context;
  const userColumns = input.columns.map((c) => ident(c.name));
  if (outcome.kept > 0) {
    await session.run(
      `CREATE OR REPLACE TABLE ${p}_kept AS SELECT * FROM read_json(${literal(outcome.outputPath)}, format = 'newline_delimited', sample_size = -1)`,
    );
  } else {
    await session.run(
      `CREATE OR REPLACE TABLE ${p}_kept AS SELECT ${[...userColumns, FLAGS.row].join(', ')} FROM ${p}_in LIMIT 0`,
    );
  }
  const keptColumns = (await describe(session, `SELECT * FROM ${p}_kept`)).filter(
    (c) => c.name !== FLAGS.row,
  );
  const typed = keptColumns.map((c) => {
    const before = input.columns.find((b) => b.name === c.name);
    return before ? `TRY_CAST(${ident(c.name)} AS ${before.type}) AS ${ident(c.name)}` : ident(c.name);
  });
  await session.run(`CREATE OR REPLACE TABLE ${p}_rejected (ordinal BIGINT, reason VARCHAR)`);
  for (const { ordinal, reason } of outcome.rejected) {
    await session.run(`INSERT INTO ${p}_rejected VALUES (${Number(ordinal)}, ${literal(reason)})`);
  }
  const flags = (rule: string, reason: string, drop: string) =>
    `${rule}::VARCHAR AS ${FLAGS.rule}, ${reason}::VARCHAR AS ${FLAGS.reason}, ${drop}::VARCHAR AS ${FLAGS.drop}`;
  // Rows the script dropped are known only by number when it returned new objects,
  // so they are carried as that many anonymous filtered rows: the counts stay exact.
  const parts = [
    `SELECT ${[...typed, `CAST(${FLAGS.row} AS BIGINT) AS ${FLAGS.row}`, flags('NULL', 'NULL', 'NULL'), `false AS ${FLAGS.fatal}`].join(', ')} FROM ${p}_kept`,
    `SELECT ${FLAGS.row}, ${FLAGS.rule}, ${FLAGS.reason}, ${FLAGS.drop}, ${FLAGS.fatal} FROM ${p}_in WHERE NOT ${LIVE}`,
    `SELECT ordinal AS ${FLAGS.row}, ${flags("'script'", "'script: ' || reason", 'NULL')}, false AS ${FLAGS.fatal} FROM ${p}_rejected`,
    `SELECT NULL::BIGINT AS ${FLAGS.row}, ${flags('NULL', 'NULL', literal(`script: ${context.path}`))}, false AS ${FLAGS.fatal} FROM range(${outcome.filtered})`,
  ];
  await session.run(`CREATE OR REPLACE TABLE ${p}_out AS ${parts.join(' UNION ALL BY NAME ')}`);
  const sql = `SELECT * FROM ${p}_out`;
  return { sql, columns: await describe(session, sql) };
}
