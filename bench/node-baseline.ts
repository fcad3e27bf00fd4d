/**
 * The baseline a Node user would write by hand for bench/jobs/transactions.yaml:
 * csv-parse (streaming) → rename, cast, validate, derive in JavaScript → @dsnp/parquetjs.
 * Rows that fail a cast or a rule go to an NDJSON quarantine file with the rule, as
 * inlet's do. Usage: node-baseline.ts <input.csv> <output.parquet> <quarantine.ndjson>.
 * Prints {"received", "written", "quarantined"}.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import parquet from '@dsnp/parquetjs';
import { parse } from 'csv-parse';

const [input, output, quarantinePath] = process.argv.slice(2);
if (!input || !output || !quarantinePath) {
  console.error('usage: node-baseline.ts <input.csv> <output.parquet> <quarantine.ndjson>');
  process.exit(2);
}

type CsvRecord = Record<string, string>;

const optionalText = { type: 'UTF8', optional: true, compression: 'SNAPPY' } as const;
// The types inlet's job produces: cast (integer, decimal(12,2), timestamp) and amount * 0.92 as DECIMAL(15,4).
const schema = new parquet.ParquetSchema({
  id: { type: 'INT64', compression: 'SNAPPY' },
  quantity: { type: 'INT32', compression: 'SNAPPY' },
  amount: { type: 'DECIMAL', precision: 12, scale: 2, compression: 'SNAPPY' },
  ts: { type: 'TIMESTAMP_MICROS', compression: 'SNAPPY' },
  customer: optionalText,
  email: optionalText,
  currency: optionalText,
  order_ref: optionalText,
  amount_eur: { type: 'DECIMAL', precision: 15, scale: 4, compression: 'SNAPPY' },
});

const INTEGER = /^[+-]?\d+$/;
const DECIMAL_2 = /^([+-]?)(\d{1,10})(?:\.(\d{1,2}))?$/;

/** decimal(12,2) as its unscaled integer (cents), or undefined when the text is not one. */
function toCents(text: string): number | undefined {
  const match = DECIMAL_2.exec(text.trim());
  if (!match) return undefined;
  const cents = Number(match[2]) * 100 + Number((match[3] ?? '').padEnd(2, '0'));
  return match[1] === '-' ? -cents : cents;
}

function toTimestamp(text: string): Date | undefined {
  const date = new Date(`${text.trim().replace(' ', 'T')}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const emptyToNull = (text: string) => (text === '' ? null : text);

/**
 * parquetjs takes a decimal as a JS number and stores Math.floor(value × 10^scale), so
 * 0.29 would become 28 cents; adding half a unit makes the floor land on the exact value.
 */
const decimal = (unscaled: number, scale: number) => (unscaled + 0.5) / 10 ** scale;

interface Rejection {
  rule: string;
  reason: string;
}

const castFailure = (column: string, type: string, value: string): Rejection => ({
  rule: `cast: ${column} as ${type}`,
  reason: `cannot convert ${column} value ${JSON.stringify(value)} to ${type}`,
});

/** rename + cast + validate + derive for one record: the row to write, or why it is rejected. */
function transform(record: CsvRecord): Record<string, unknown> | Rejection {
  // rename: txn_id → id, qty → quantity; cast: quantity integer, amount decimal(12,2), ts timestamp.
  if (!INTEGER.test(record.txn_id)) return castFailure('id', 'bigint', record.txn_id);
  if (!INTEGER.test(record.qty.trim())) return castFailure('quantity', 'integer', record.qty);
  const quantity = Number(record.qty);
  const cents = toCents(record.amount);
  if (cents === undefined) return castFailure('amount', 'decimal(12,2)', record.amount);
  const ts = toTimestamp(record.ts);
  if (!ts) return castFailure('ts', 'timestamp', record.ts);
  // validate
  if (cents < 0) return { rule: 'rule: amount >= 0', reason: 'rule failed: amount >= 0' };
  if (quantity <= 0) return { rule: 'rule: quantity > 0', reason: 'rule failed: quantity > 0' };
  return {
    id: BigInt(record.txn_id),
    quantity,
    amount: decimal(cents, 2),
    ts,
    customer: emptyToNull(record.customer),
    email: emptyToNull(record.email),
    currency: emptyToNull(record.currency),
    order_ref: emptyToNull(record.order_ref),
    // derive: amount_eur = amount * 0.92, exact at scale 4 (cents × 92 / 10^4).
    amount_eur: decimal(cents * 92, 4),
  };
}

const writer = await parquet.ParquetWriter.openFile(schema, output);
const quarantine = createWriteStream(quarantinePath);
const counts = { received: 0, written: 0, quarantined: 0 };
const records = createReadStream(input).pipe(parse({ columns: true }));
for await (const record of records as AsyncIterable<CsvRecord>) {
  counts.received += 1;
  const row = transform(record);
  if ('rule' in row) {
    counts.quarantined += 1;
    // Line = ordinal + header (the generated data has no embedded newlines).
    quarantine.write(`${JSON.stringify({ line: counts.received + 1, ...row, record })}\n`);
  } else {
    await writer.appendRow(row);
    counts.written += 1;
  }
}
await writer.close();
quarantine.end();
await finished(quarantine);
console.log(JSON.stringify(counts));
