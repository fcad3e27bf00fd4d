/** Small helpers for building DuckDB SQL from user-supplied names and values safely. */

/** Quotes an identifier (column or table name) for DuckDB. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal for DuckDB. */
export function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A DuckDB list literal of strings: ['a', 'b']. */
export function listLiteral(values: readonly string[]): string {
  return `[${values.map(literal).join(', ')}]`;
}

/** SQL that renders a value in quotes for messages, e.g. 'abc'; NULL stays NULL. */
export function quotedValue(expression: string): string {
  return `('''' || CAST(${expression} AS VARCHAR) || '''')`;
}
