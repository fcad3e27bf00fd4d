import { z } from 'zod';
import { ident, literal, quotedValue } from '../sql.ts';
import { requireColumn } from './columns.ts';
import { type Column, nextRelation, type Rejection, type Relation, type StepContext } from './relation.ts';

const simpleTypes = ['integer', 'bigint', 'double', 'boolean', 'date', 'timestamp', 'string'] as const;
const decimalType = z
  .string()
  .regex(
    /^decimal\(\s*\d{1,2}\s*,\s*\d{1,2}\s*\)$/,
    'expected decimal(precision,scale); inside a YAML { } mapping quote it: "decimal(12,2)"',
  );
const typeName = z.union([z.enum(simpleTypes), decimalType]);

export const castSchema = z
  .record(
    z.string(),
    z.union([
      typeName,
      z
        .object({
          type: typeName,
          format: z.string().optional().describe('strptime format for date/timestamp, e.g. "%d/%m/%Y".'),
        })
        .strict(),
    ]),
  )
  .describe(
    'Converts columns to types: integer, bigint, double, decimal(p,s), boolean, date, timestamp, string. ' +
      'A value that does not convert quarantines its row (never rounded or silently nulled).',
  );

type CastTarget = { type: string; format?: string };

const SQL_TYPES: Record<string, string> = {
  integer: 'INTEGER',
  bigint: 'BIGINT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
  string: 'VARCHAR',
};

function sqlType(type: string): string {
  return SQL_TYPES[type] ?? type.toUpperCase().replaceAll(' ', '');
}

/** SQL converting `column` to the target, NULL where the value does not convert exactly. */
function convert(column: Column, target: CastTarget): string {
  const c = ident(column.name);
  const type = sqlType(target.type);
  const isText = column.type === 'VARCHAR';
  if (target.format && (target.type === 'date' || target.type === 'timestamp')) {
    return `TRY_CAST(try_strptime(CAST(${c} AS VARCHAR), ${literal(target.format)}) AS ${type})`;
  }
  if (target.type === 'integer' || target.type === 'bigint') {
    // DuckDB rounds '1.5' to 2 when casting to an integer; inlet refuses to lose the fraction.
    if (isText)
      return `CASE WHEN regexp_full_match(trim(${c}), '[+-]?[0-9]+') THEN TRY_CAST(trim(${c}) AS ${type}) END`;
    if (/^(DOUBLE|FLOAT|REAL|DECIMAL)/.test(column.type))
      return `CASE WHEN ${c} = trunc(${c}) THEN TRY_CAST(${c} AS ${type}) END`;
  }
  return isText ? `TRY_CAST(trim(${c}) AS ${type})` : `TRY_CAST(${c} AS ${type})`;
}

export function compileCast(
  input: Relation,
  config: z.output<typeof castSchema>,
  context: StepContext,
): string {
  const targets = new Map<string, CastTarget>();
  for (const [name, spec] of Object.entries(config)) {
    requireColumn(input.columns, name, `${context.path}.${name}`);
    targets.set(name, typeof spec === 'string' ? { type: spec } : spec);
  }
  const rejections: Rejection[] = [];
  const columns = input.columns.map((column) => {
    const target = targets.get(column.name);
    if (!target) return ident(column.name);
    const converted = convert(column, target);
    const c = ident(column.name);
    rejections.push({
      when: `${c} IS NOT NULL AND ${converted} IS NULL`,
      rule: literal(`cast: ${column.name} as ${target.type}`),
      reason: `'cannot convert ' || ${literal(column.name)} || ' value ' || ${quotedValue(c)} || ' to ${target.type}${target.format ? ` (format ${target.format.replaceAll("'", "''")})` : ''}'`,
    });
    return `${converted} AS ${c}`;
  });
  return nextRelation(input, columns, { reject: rejections });
}
