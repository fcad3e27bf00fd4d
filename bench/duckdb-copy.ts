/**
 * The reference contestant: DuckDB's own CSV → Parquet conversion, with nothing around
 * it. Usage: duckdb-copy.ts <input.csv> <output.parquet> [memory_limit]. Prints {"rows": n}.
 */
import { DuckDBInstance } from '@duckdb/node-api';

const [input, output, memoryLimit = '512MB'] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: duckdb-copy.ts <input.csv> <output.parquet> [memory_limit]');
  process.exit(2);
}

const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;

const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
// Same buffer-manager cap as inlet's session; threads stay at DuckDB's default (all cores).
await connection.run(`SET memory_limit = ${quote(memoryLimit)}`);
const result = await connection.run(
  `COPY (SELECT * FROM read_csv(${quote(input)})) TO ${quote(output)} (FORMAT parquet)`,
);
console.log(JSON.stringify({ rows: result.rowsChanged }));
connection.closeSync();
instance.closeSync();
