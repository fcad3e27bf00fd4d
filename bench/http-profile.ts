/**
 * Where inlet's main thread spends an HTTP delivery: runs (b) of bench/http-delivery.ts once
 * under V8's sampling profiler (`--cpu-prof`), with the data directory on disk, then on
 * tmpfs, then the Node baseline the same way, and sorts every sample into one of a few buckets by the innermost frame of the
 * stack that belongs to one. Synchronous native calls (SQLite's fsync) count as time on the
 * main thread, which is what they cost a single-threaded event loop. Prints one Markdown
 * table; bench/README.md quotes it. Explains the benchmark; it is not one.
 *
 *   bin/node-24 bench/http-profile.ts [--records 500000] [--concurrency 16]
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDocument } from 'yaml';
import { MockProcess } from './crm-mock-process.ts';
import { ensureUsers } from './generate-users.ts';
import { measure } from './measure.ts';

const BENCH = import.meta.dirname;
const ROOT = resolve(BENCH, '..');
const DATA = join(BENCH, 'data');
const WORK = join(DATA, 'work-http-profile');
const INLET = join(ROOT, 'bin', 'inlet');
const NODE = join(ROOT, 'bin', 'node-24');

interface CallFrame {
  functionName: string;
  url: string;
}
interface Profile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** Buckets, tried from the sampled frame outwards; the first frame that matches one decides. */
const BUCKETS: [string, (frame: CallFrame) => boolean][] = [
  ['metadata store: SQLite calls (sqlite-store.ts)', (f) => f.url.endsWith('/sqlite-store.ts')],
  ['batch key: sha256 over each record as JSON', (f) => f.functionName === 'batchKey'],
  ['response rules: JSONPath per record (outcomesOf)', (f) => f.functionName === 'outcomesOf'],
  [
    'reading rows: DuckDB → objects (inlet), csv-parse (baseline)',
    (f) =>
      f.url.includes('/@duckdb/') ||
      f.url.includes('/csv-parse/') ||
      (f.functionName === 'stream' && f.url.endsWith('/duckdb-session.ts')),
  ],
  [
    'HTTP call: fetch (undici), body JSON.stringify, answer JSON.parse',
    (f) =>
      f.functionName === '#send' ||
      f.url.includes('undici') ||
      (f.functionName === 'post' && f.url.endsWith('/http-baseline.ts')),
  ],
  ['delivery loop: batching, per-record size (JSON.stringify)', (f) => f.functionName === 'deliverUnit'],
  [
    'start-up: loading and compiling modules',
    (f) => /internal\/modules\/|compileSourceTextModule|wrapSafe/.test(`${f.url} ${f.functionName}`),
  ],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['idle: waiting for answers', (f) => f.functionName === '(idle)'],
];
const OTHER = 'other';

function bucketSeconds(profile: Profile): Map<string, number> {
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const decided = new Map<number, string>();
  const bucketOf = (id: number): string => {
    const known = decided.get(id);
    if (known) return known;
    const frame = byId.get(id)!.callFrame;
    const hit = BUCKETS.find(([, test]) => test(frame))?.[0];
    const up = parent.get(id);
    const bucket = hit ?? (up === undefined ? OTHER : bucketOf(up));
    decided.set(id, bucket);
    return bucket;
  };
  const seconds = new Map<string, number>([...BUCKETS.map(([name]) => [name, 0] as const), [OTHER, 0]]);
  profile.samples.forEach((id, i) => {
    const bucket = bucketOf(id);
    seconds.set(bucket, seconds.get(bucket)! + (profile.timeDeltas[i] ?? 0) / 1e6);
  });
  return seconds;
}

/** The hand-written reference at the same concurrency, profiled the same way. */
async function profiledBaseline(
  input: string,
  mock: MockProcess,
  concurrency: number,
  profileDir: string,
): Promise<{ wall: number; buckets: Map<string, number> }> {
  await rm(profileDir, { recursive: true, force: true });
  await mock.reset();
  const run = await measure(NODE, [
    '--cpu-prof',
    `--cpu-prof-dir=${profileDir}`,
    join(BENCH, 'http-baseline.ts'),
    input,
    mock.url,
    String(concurrency),
    '100',
  ]);
  if (run.exitCode !== 0)
    throw new Error(`the baseline exited with ${run.exitCode}: ${run.stderr.slice(-2000)}`);
  const [file] = await readdir(profileDir);
  const profile = JSON.parse(await readFile(join(profileDir, file), 'utf8')) as Profile;
  return { wall: run.wallSeconds, buckets: bucketSeconds(profile) };
}

async function profiledRun(
  job: string,
  input: string,
  mock: MockProcess,
  dataDir: string,
  profileDir: string,
): Promise<{ wall: number; buckets: Map<string, number> }> {
  await rm(dataDir, { recursive: true, force: true });
  await rm(profileDir, { recursive: true, force: true });
  await mock.reset();
  const run = await measure(INLET, ['run', job, '--json'], {
    env: {
      ...process.env,
      BENCH_INPUT: input,
      CRM: mock.url,
      INLET_ALLOW_PRIVATE_NETWORKS: 'true',
      INLET_DATA_DIR: dataDir,
      NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}`,
    },
  });
  if (run.exitCode !== 0) throw new Error(`inlet exited with ${run.exitCode}: ${run.stderr.slice(-2000)}`);
  const [file] = await readdir(profileDir);
  const profile = JSON.parse(await readFile(join(profileDir, file), 'utf8')) as Profile;
  return { wall: run.wallSeconds, buckets: bucketSeconds(profile) };
}

const { values } = parseArgs({
  options: { records: { type: 'string', default: '500000' }, concurrency: { type: 'string', default: '16' } },
});
const log = (message: string) => process.stderr.write(`[http-profile] ${message}\n`);
const dataset = await ensureUsers(DATA, Number(values.records), log);
await rm(WORK, { recursive: true, force: true });
await mkdir(WORK, { recursive: true });
const doc = parseDocument(await readFile(join(BENCH, 'jobs', 'crm-users.yaml'), 'utf8'));
doc.setIn(['sink', 'concurrency'], Number(values.concurrency));
const job = join(WORK, 'job.yaml');
await writeFile(job, doc.toString());
const mock = await MockProcess.start(0, 5);
const runs: { label: string; wall: number; buckets: Map<string, number> }[] = [];
try {
  log(`inlet on ${dataset.rows.toLocaleString('en-US')} records, data directory on disk`);
  runs.push({
    label: 'data dir on disk',
    ...(await profiledRun(job, dataset.path, mock, join(WORK, 'data'), join(WORK, 'profile-disk'))),
  });
  if (existsSync('/dev/shm')) {
    const tmpfs = join('/dev/shm', `inlet-http-profile-${process.pid}`);
    log('the same, data directory on tmpfs');
    try {
      runs.push({
        label: 'data dir on tmpfs',
        ...(await profiledRun(job, dataset.path, mock, tmpfs, join(WORK, 'profile-tmpfs'))),
      });
    } finally {
      await rm(tmpfs, { recursive: true, force: true });
    }
  }
  log('the Node baseline (bench/http-baseline.ts) at the same concurrency');
  runs.push({
    label: 'Node baseline',
    ...(await profiledBaseline(
      dataset.path,
      mock,
      Number(values.concurrency),
      join(WORK, 'profile-baseline'),
    )),
  });
} finally {
  await mock.stop();
}
await rm(WORK, { recursive: true, force: true });

const names = [...BUCKETS.map(([name]) => name), OTHER];
const header = ['main thread', ...runs.flatMap((r) => [`${r.label}, s`, '%'])];
const body = names.map((name) => [
  name,
  ...runs.flatMap((r) => {
    const total = [...r.buckets.values()].reduce((a, b) => a + b, 0);
    const s = r.buckets.get(name)!;
    return [s.toFixed(2), `${((100 * s) / total).toFixed(0)}%`];
  }),
]);
const sampled = [
  'sampled in all',
  ...runs.flatMap((r) => [[...r.buckets.values()].reduce((a, b) => a + b, 0).toFixed(2), '100%']),
];
const wall = ['wall time of the run, spawn to exit', ...runs.flatMap((r) => [r.wall.toFixed(2), ''])];
for (const row of [header, header.map((_, i) => (i === 0 ? '---' : '---:')), ...body, sampled, wall])
  process.stdout.write(`| ${row.join(' | ')} |\n`);
