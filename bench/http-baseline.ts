/**
 * The reference for bench/http-delivery.ts: what a Node user would write by hand to push a
 * users CSV into the CRM. One OAuth2 token fetched up front, csv-parse (streaming) → batches
 * of `batch` records → fetch POST {"records": [...]} with up to `concurrency` calls in
 * flight; each answer's per-record codes are counted. No token refresh, no response rules,
 * no retries, no rate limit, no record of the calls: a 200 with per-record codes is all it
 * checks. It sends an Idempotency-Key like inlet does, so the CRM does the same work for both.
 *
 *   http-baseline.ts <users.csv> <crm base url> <concurrency> <batch>
 *
 * Prints {"records", "calls", "codes": {code: count}}.
 */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';

const [input, base, concurrencyText, batchText] = process.argv.slice(2);
const concurrency = Number(concurrencyText);
const batchSize = Number(batchText);
if (!input || !base || !(concurrency >= 1) || !(batchSize >= 1)) {
  console.error('usage: http-baseline.ts <users.csv> <crm base url> <concurrency> <batch>');
  process.exit(2);
}

const tokenResponse = await fetch(`${base}/oauth/token`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: 'grant_type=client_credentials&client_id=inlet&client_secret=inlet-secret',
});
if (!tokenResponse.ok) throw new Error(`token: HTTP ${tokenResponse.status}`);
const { access_token: token } = (await tokenResponse.json()) as { access_token: string };

const codes: Record<string, number> = {};
let records = 0;
let calls = 0;

async function post(batch: Record<string, string>[], number: number): Promise<void> {
  const response = await fetch(`${base}/api/ADD_CUST`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': `baseline-${process.pid}-${number}`,
    },
    body: JSON.stringify({ records: batch }),
  });
  if (!response.ok) throw new Error(`ADD_CUST: HTTP ${response.status} ${await response.text()}`);
  const { results } = (await response.json()) as { results: { code: number }[] };
  for (const { code } of results) codes[code] = (codes[code] ?? 0) + 1;
  records += batch.length;
  calls += 1;
}

const inFlight = new Set<Promise<void>>();
let failure: unknown;
let number = 0;
const send = (batch: Record<string, string>[]) => {
  const call = post(batch, number++).catch((error) => {
    failure ??= error;
  });
  inFlight.add(call);
  void call.finally(() => inFlight.delete(call));
};

let batch: Record<string, string>[] = [];
for await (const record of createReadStream(input).pipe(parse({ columns: true }))) {
  batch.push(record as Record<string, string>);
  if (batch.length === batchSize) {
    send(batch);
    batch = [];
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (failure) throw failure;
  }
}
if (batch.length) send(batch);
await Promise.all(inFlight);
if (failure) throw failure;
process.stdout.write(`${JSON.stringify({ records, calls, codes })}\n`);
