/**
 * The users CSV the HTTP delivery benchmark sends to the mock CRM's ADD_CUST: one row per
 * customer, every row valid (so every record should come back 200 on a fresh CRM), with a
 * fixed PRNG seed so every machine gets the same bytes. Generated once per size into
 * bench/data/ (git-ignored) and reused while its metadata matches.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Bumped whenever the generated data changes, so stale cached files are rebuilt. */
const GENERATOR_VERSION = 1;
const SEED = 20_261_122;

export const USERS_HEADER = 'customer_id,name,email,country,segment,signup_date';

/** A generated users file. */
export interface UsersDataset {
  path: string;
  rows: number;
  bytes: number;
  seed: number;
  version: number;
}

const GIVEN = [
  'Ada',
  'Bruno',
  'Chen',
  'Dalia',
  'Emil',
  'Farah',
  'Goran',
  'Hana',
  'Ines',
  'Jonas',
  'Kofi',
  'Lena',
];
const FAMILY = [
  'Okoye',
  'Larsen',
  'Moreau',
  'Tanaka',
  'Silva',
  "D'Amico",
  'Novak',
  'Weber',
  'Haddad',
  'Park',
];
const COUNTRIES = ['DE', 'DE', 'FR', 'GB', 'US', 'US', 'NL', 'SE', 'PL', 'JP', 'BR', 'IN'];
const SEGMENTS = ['retail', 'retail', 'retail', 'smb', 'enterprise'];
const DAY_MS = 86_400_000;
const FIRST_SIGNUP = Date.UTC(2019, 0, 1);

/** xorshift128+ reduced to 32-bit output: small, fast, and deterministic for a fixed seed. */
function prng(seed: number): () => number {
  let s0 = (seed ^ 0x5deece66) >>> 0 || 1;
  let s1 = (seed * 2_654_435_761) >>> 0 || 1;
  return () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    s1 = x >>> 0;
    return ((s0 + s1) >>> 0) / 4_294_967_296;
  };
}

function choose<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)];
}

/** One CSV line for customer number `n` (1-based); ids and e-mails are unique by construction. */
function userLine(random: () => number, n: number): string {
  const given = choose(random, GIVEN);
  const family = choose(random, FAMILY);
  const id = `C${String(n).padStart(9, '0')}`;
  const email = `${given}.${family.replace("'", '')}.${n}@example.test`.toLowerCase();
  const signup = new Date(FIRST_SIGNUP + Math.floor(random() * 2_500) * DAY_MS).toISOString().slice(0, 10);
  // Quoted "Family, Given": the CSV reader has to handle quoting on every row.
  return `${id},"${family}, ${given}",${email},${choose(random, COUNTRIES)},${choose(random, SEGMENTS)},${signup}\n`;
}

async function cached(path: string, rows: number): Promise<UsersDataset | undefined> {
  try {
    const meta = JSON.parse(await readFile(`${path}.meta.json`, 'utf8')) as UsersDataset;
    const { size } = await stat(path);
    if (meta.version === GENERATOR_VERSION && meta.seed === SEED && meta.rows === rows && size === meta.bytes)
      return { ...meta, path };
  } catch {
    // Missing or unreadable: generate it.
  }
  return undefined;
}

/** Returns `dir/users-<rows>.csv`, writing it first when it is missing or stale. */
export async function ensureUsers(
  dir: string,
  rows: number,
  log: (message: string) => void,
): Promise<UsersDataset> {
  const path = join(dir, `users-${rows}.csv`);
  const existing = await cached(path, rows);
  if (existing) return existing;
  await mkdir(dir, { recursive: true });
  log(`generating ${rows.toLocaleString('en-US')} users into ${path}`);
  const partial = `${path}.partial`;
  const out = createWriteStream(partial);
  const random = prng(SEED);
  let chunk = `${USERS_HEADER}\n`;
  for (let n = 1; n <= rows; n++) {
    chunk += userLine(random, n);
    if (chunk.length >= 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  await rename(partial, path).catch(async (error) => {
    await rm(partial, { force: true });
    throw error;
  });
  const { size } = await stat(path);
  const dataset: UsersDataset = { path, rows, bytes: size, seed: SEED, version: GENERATOR_VERSION };
  await writeFile(`${path}.meta.json`, `${JSON.stringify(dataset, null, 2)}\n`);
  return dataset;
}
