import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Rows in the scale-1 file. */
export const BASE_ROWS = 2_000_000;

/** Bumped whenever the generated data changes, so stale cached files are rebuilt. */
const GENERATOR_VERSION = 1;
const SEED = 20_240_601;

/** A generated CSV and what the benchmark should find in it. */
export interface Dataset {
  path: string;
  rows: number;
  /** Rows with a negative amount or a zero quantity: the job's validate step rejects exactly these. */
  invalid: number;
  bytes: number;
  seed: number;
  version: number;
}

export const HEADER = 'txn_id,qty,amount,ts,customer,email,currency,order_ref';

const FIRST = [
  'John',
  'Jane',
  'Maria',
  'Ahmed',
  'Li',
  'Olga',
  'Pierre',
  'Sofia',
  'Kenji',
  'Amara',
  'Lucas',
  'Emma',
  'Noah',
  'Zoe',
  'Ivan',
  'Fatima',
  'Mateo',
  'Anna',
  'Omar',
  'Chloe',
  'Raj',
  'Elena',
  'Tom',
  'Nina',
];
const LAST = [
  'Smith',
  'Müller',
  'Garcia',
  'Nguyen',
  'Rossi',
  "O'Brien",
  'Kowalski',
  'Dubois',
  'Silva',
  'Tanaka',
  'Johansson',
  'Okafor',
  'Novak',
  'Haddad',
  'Kim',
  'Jensen',
  'Costa',
  'Petrov',
  'Martin',
  'Lee',
  'Schmidt',
  'Brown',
];
const DOMAINS = ['example.com', 'mail.test', 'shop.example', 'corp.test'];
// Weighted: euros and dollars dominate, as in most ledgers.
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'USD', 'USD', 'GBP', 'CHF', 'SEK', 'JPY', 'PLN'];

const START_MS = Date.UTC(2023, 0, 1);
const SPAN_SECONDS = 730 * 86_400;

/** sfc32: a small, fast, well-distributed PRNG; the fixed seed makes every rerun byte-identical. */
function sfc32(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4_294_967_296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** One CSV line (with its newline) and whether the job's validate rules must reject it. */
function makeRow(random: () => number, index: number): { line: string; invalid: boolean } {
  const id = 3_000_000_001 + index;
  const zeroQty = random() < 0.001;
  const qty = zeroQty ? 0 : 1 + Math.floor(random() * random() * 20);
  const negative = random() < 0.005;
  const cents = 1 + Math.floor(random() * 200_000);
  const amount = `${negative ? '-' : ''}${Math.floor(cents / 100)}.${pad(cents % 100, 2)}`;
  const ts = new Date(START_MS + Math.floor(random() * SPAN_SECONDS) * 1000).toISOString();
  const first = pick(random, FIRST);
  const last = pick(random, LAST);
  // A few names carry an embedded quote, so CSV quote escaping is exercised too.
  const nickname = random() < 0.002 ? ` ""${first.slice(0, 2)}""` : '';
  const email =
    `${first}.${last.replace("'", '')}${Math.floor(random() * 100)}@${pick(random, DOMAINS)}`.toLowerCase();
  const orderRef = random() < 0.01 ? '' : `ORD-${pad(Math.floor(random() * 10_000_000), 7)}`;
  const line =
    `${id},${qty},${amount},${ts.slice(0, 10)} ${ts.slice(11, 19)},"${last}, ${first}${nickname}",` +
    `${email},${pick(random, CURRENCIES)},${orderRef}\n`;
  return { line, invalid: negative || zeroQty };
}

async function readCached(path: string, rows: number): Promise<Dataset | undefined> {
  try {
    const meta = JSON.parse(await readFile(`${path}.meta.json`, 'utf8')) as Dataset;
    const { size } = await stat(path);
    // The stored path is not compared: the checkout may have moved; the bytes are what matter.
    if (
      meta.version === GENERATOR_VERSION &&
      meta.seed === SEED &&
      meta.rows === rows &&
      size === meta.bytes
    ) {
      return { ...meta, path };
    }
  } catch {
    // No usable cache: generate.
  }
  return undefined;
}

/**
 * Returns the `scale` × 2 M row transactions CSV under `dir`, generating it the first
 * time. Generation streams (a chunk of lines at a time, honouring backpressure), so a
 * 20 M row file needs no more memory than a 2 M row one. The file is written under a
 * temporary name and its metadata last, so an interrupted generation is redone.
 */
export async function ensureDataset(
  dir: string,
  scale: number,
  log: (message: string) => void,
): Promise<Dataset> {
  const rows = BASE_ROWS * scale;
  const path = join(dir, `transactions-x${scale}.csv`);
  const metaPath = `${path}.meta.json`;
  const cached = await readCached(path, rows);
  if (cached) return cached;

  await mkdir(dir, { recursive: true });
  await rm(metaPath, { force: true });
  const partial = `${path}.partial`;
  log(`generating ${rows.toLocaleString('en-US')} rows into ${path}`);
  const started = performance.now();
  const random = sfc32(SEED);
  const out = createWriteStream(partial, { highWaterMark: 1 << 20 });
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  // Observed by the races below; this handler only keeps an early error from going unhandled.
  failed.catch(() => undefined);
  let invalid = 0;
  let chunk = `${HEADER}\n`;
  for (let i = 0; i < rows; i++) {
    const row = makeRow(random, i);
    if (row.invalid) invalid += 1;
    chunk += row.line;
    if (chunk.length >= 1 << 20) {
      if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
      chunk = '';
    }
  }
  out.end(chunk);
  await Promise.race([once(out, 'finish'), failed]);
  await rename(partial, path);
  const { size } = await stat(path);
  const dataset: Dataset = { path, rows, invalid, bytes: size, seed: SEED, version: GENERATOR_VERSION };
  await writeFile(metaPath, `${JSON.stringify(dataset, null, 2)}\n`);
  log(`generated ${(size / 1e6).toFixed(0)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return dataset;
}
