/**
 * SFTP → Parquet benchmark: an inlet job with an `sftp` source against what a user would
 * otherwise do, OpenSSH's own `sftp` client fetching the file and then the same inlet job
 * with a `file` source on the copy. Same generated ~1 GB transactions CSV, same transforms
 * (bench/jobs/transactions.yaml, only the source differs), same real sshd on loopback, in the
 * same run. Updates its own section of bench/RESULTS.md and prints the same tables. See
 * bench/README.md.
 *
 *   npm run bench:sftp -- [--runs K] [--scale N]
 */
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { copyFile, link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseDocument } from 'yaml';
import { type SftpServer, startSftpServer } from '../test/servers/sshd.ts';
import { type Dataset, ensureDataset } from './generate-transactions.ts';
import { type Measured, measure, rssMethod } from './measure.ts';
import { writeResultsSection } from './results-file.ts';

const BENCH = import.meta.dirname;
const ROOT = resolve(BENCH, '..');
const DATA = join(BENCH, 'data');
const WORK = join(DATA, 'work-sftp');
const INLET = join(ROOT, 'bin', 'inlet');
const LOCAL_JOB = join(BENCH, 'jobs', 'transactions.yaml');
const RESULTS = join(BENCH, 'RESULTS.md');

/** The same buffer-manager cap as the CSV → Parquet benchmark. */
const MEMORY_LIMIT = '512MB';
/** Scale 5 is 10 M rows, ~970 MB: the ~1 GB file this benchmark is about. */
const DEFAULT_SCALE = 5;
/** The remote job should cost no more than fetching the file and running the job locally. */
const TARGET_RATIO = 1.0;

interface Sample {
  wallSeconds: number;
  peakRssBytes: number;
  cpuSeconds?: number;
  /** inlet only: seconds per run stage, from `inlet runs show`. */
  stageSeconds?: Record<string, number>;
}

interface Summary {
  label: string;
  wallSeconds: number;
  cpuSeconds?: number;
  peakRssBytes: number;
  maxRssBytes: number;
  stageSeconds?: Record<string, number>;
}

/** What one timed run needs: the dataset, where it sits on the server, and how to sign in. */
interface Setup {
  dataset: Dataset;
  server: SftpServer;
  /** The file's absolute path as the server shows it. */
  remotePath: string;
  /** The private key, as a file OpenSSH accepts (mode 0600). */
  keyFile: string;
  /** bench/jobs/transactions.yaml with an sftp source instead of the file source. */
  remoteJob: string;
}

interface InletSummary {
  run_id: string;
  status: string;
  counts: { received: number; written: number; quarantined: number; filtered: number };
}

const log = (message: string) => process.stderr.write(`[bench:sftp] ${message}\n`);

function fail(message: string): never {
  throw new Error(message);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Throws with the tail of the child's output when it did not exit cleanly. */
function requireSuccess(name: string, run: Measured): void {
  if (run.exitCode === 0) return;
  const tail = run.stderr.trim().split('\n').slice(-15).join('\n');
  fail(
    `${name} exited with ${run.exitCode}\n--- stdout\n${run.stdout.trim().slice(-2000)}\n--- stderr (tail)\n${tail}`,
  );
}

async function parquetRows(glob: string): Promise<number> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(
      `SELECT count(*)::BIGINT AS n FROM read_parquet('${glob.replaceAll("'", "''")}')`,
    );
    return Number(reader.getRowObjectsJson()[0].n);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Runs the job, checks that its counts and its Parquet account for every row, and returns its timing. */
async function runInlet(name: string, job: string, dir: string, env: NodeJS.ProcessEnv, dataset: Dataset) {
  const output = join(dir, 'out');
  const runEnv = {
    ...process.env,
    ...env,
    BENCH_OUTPUT: output,
    // A fresh data directory per run: the ledger never skips the file as already ingested.
    INLET_DATA_DIR: join(dir, 'inlet-data'),
    INLET_MEMORY_LIMIT: MEMORY_LIMIT,
  };
  const run = await measure(INLET, ['run', job, '--json'], { env: runEnv });
  requireSuccess(name, run);
  const summary = JSON.parse(run.stdout) as InletSummary;
  const { counts } = summary;
  if (
    summary.status !== 'succeeded' ||
    counts.received !== dataset.rows ||
    counts.quarantined !== dataset.invalid ||
    counts.received !== counts.written + counts.quarantined + counts.filtered
  ) {
    fail(`${name}: expected ${dataset.rows} rows, ${dataset.invalid} quarantined; got ${run.stdout.trim()}`);
  }
  const rows = await parquetRows(join(output, '*.parquet'));
  if (rows !== dataset.rows - dataset.invalid) fail(`${name}: the Parquet output has ${rows} rows`);
  const show = await measure(INLET, ['runs', 'show', summary.run_id, '--json'], { env: runEnv });
  requireSuccess('inlet runs show', show);
  const { stageSeconds } = JSON.parse(show.stdout) as { stageSeconds: Record<string, number> };
  return { ...run, stageSeconds };
}

/** The remote job: inlet lists the server's folder and transfers the file itself. */
async function remoteRun(setup: Setup, dir: string): Promise<Sample> {
  return runInlet('inlet (sftp source)', setup.remoteJob, dir, {}, setup.dataset);
}

/** The reference: OpenSSH's sftp fetches the file, then inlet runs the same job on the copy. */
async function transferThenLocal(setup: Setup, dir: string): Promise<{ transfer: Sample; local: Sample }> {
  const copy = join(dir, basename(setup.dataset.path));
  const batch = join(dir, 'get.batch');
  await writeFile(batch, `get "${setup.remotePath}" "${copy}"\n`);
  const transfer = await measure('sftp', [
    '-b',
    batch,
    '-P',
    String(setup.server.port),
    '-i',
    setup.keyFile,
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    `${setup.server.username}@${setup.server.host}`,
  ]);
  requireSuccess('sftp get', transfer);
  const { size } = await stat(copy);
  if (size !== setup.dataset.bytes) fail(`sftp get: fetched ${size} bytes of ${setup.dataset.bytes}`);
  const local = await runInlet('inlet (file source)', LOCAL_JOB, dir, { BENCH_INPUT: copy }, setup.dataset);
  return { transfer, local };
}

/** bench/jobs/transactions.yaml with only its source replaced by the server's folder. */
async function writeRemoteJob(server: SftpServer, keyFile: string, fileName: string): Promise<string> {
  const doc = parseDocument(await readFile(LOCAL_JOB, 'utf8'));
  const format = doc.getIn(['source', 'format']);
  doc.set(
    'source',
    doc.createNode({
      type: 'sftp',
      host: server.host,
      port: server.port,
      username: server.username,
      private_key_path: keyFile,
      host_key: server.hostKeyFingerprint,
      path: server.home,
      pattern: fileName,
      // The file is complete before the run starts; a settle wait would only add a constant.
      settle_seconds: 0,
      format,
    }),
  );
  const job = join(WORK, 'remote-job.yaml');
  await writeFile(job, doc.toString());
  return job;
}

/** Puts the dataset in the server's folder: a hard link when it can (no 1 GB copy), else a copy. */
async function publish(dataset: Dataset, server: SftpServer): Promise<string> {
  const remotePath = join(server.home, basename(dataset.path));
  // World-readable already, so the test user reads it without owning it.
  await link(dataset.path, remotePath).catch(() => copyFile(dataset.path, remotePath));
  return remotePath;
}

/** Reads the file once so that no contestant pays for a cold page cache. */
async function warmPageCache(path: string): Promise<void> {
  await pipeline(
    createReadStream(path, { highWaterMark: 1 << 20 }),
    async (chunks: AsyncIterable<Buffer>) => {
      for await (const _ of chunks);
    },
  );
}

function summarize(label: string, samples: readonly Sample[]): Summary {
  const stages = samples[0].stageSeconds ? Object.keys(samples[0].stageSeconds) : [];
  return {
    label,
    wallSeconds: median(samples.map((s) => s.wallSeconds)),
    ...(samples.every((s) => s.cpuSeconds !== undefined)
      ? { cpuSeconds: median(samples.map((s) => s.cpuSeconds!)) }
      : {}),
    peakRssBytes: median(samples.map((s) => s.peakRssBytes)),
    maxRssBytes: Math.max(...samples.map((s) => s.peakRssBytes)),
    ...(stages.length
      ? {
          stageSeconds: Object.fromEntries(
            stages.map((stage) => [stage, median(samples.map((s) => s.stageSeconds?.[stage] ?? 0))]),
          ),
        }
      : {}),
  };
}

/** The two-step reference as one contestant: times add up run by run; its RSS is the larger step's. */
function combined(transfer: Sample, local: Sample): Sample {
  return {
    wallSeconds: transfer.wallSeconds + local.wallSeconds,
    peakRssBytes: Math.max(transfer.peakRssBytes, local.peakRssBytes),
    ...(transfer.cpuSeconds !== undefined && local.cpuSeconds !== undefined
      ? { cpuSeconds: transfer.cpuSeconds + local.cpuSeconds }
      : {}),
  };
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
const ratio = (value: number) => `${value.toFixed(2)}×`;
const formatRows = (rows: number) => rows.toLocaleString('en-US');
const seconds = (value: number | undefined) => (value === undefined ? 'n/a' : value.toFixed(2));

/** A Markdown table padded the way Biome formats one; `align` is l or r per column. */
function markdownTable(
  align: string,
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((_, c) => Math.max(3, ...[header, ...rows].map((row) => [...row[c]].length)));
  const cell = (text: string, c: number) => {
    const padding = ' '.repeat(widths[c] - [...text].length);
    return align[c] === 'r' ? padding + text : text + padding;
  };
  const line = (row: readonly string[]) => `| ${row.map(cell).join(' | ')} |`;
  const rule = `| ${widths.map((w, c) => (align[c] === 'r' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function resultRow(summary: Summary, dataset: Dataset): string[] {
  return [
    summary.label,
    summary.wallSeconds.toFixed(2),
    seconds(summary.cpuSeconds),
    formatRows(Math.round(dataset.rows / summary.wallSeconds)),
    (dataset.bytes / 1e6 / summary.wallSeconds).toFixed(1),
    mb(summary.peakRssBytes),
    mb(summary.maxRssBytes),
  ];
}

function stagesLine(summary: Summary): string {
  const stages = Object.entries(summary.stageSeconds ?? {});
  return stages.map(([stage, s]) => `${stage} ${s.toFixed(2)} s`).join(' · ') || 'n/a';
}

interface Results {
  remote: Summary;
  transfer: Summary;
  local: Summary;
  reference: Summary;
}

function tables(results: Results, dataset: Dataset): string {
  const { remote, transfer, local, reference } = results;
  const timeRatio = remote.wallSeconds / reference.wallSeconds;
  const extract = remote.stageSeconds?.extract;
  const ratios = [
    ['remote job / (sftp get + local job), wall time', ratio(timeRatio)],
    ...(remote.cpuSeconds && reference.cpuSeconds
      ? [['remote job / (sftp get + local job), CPU time', ratio(remote.cpuSeconds / reference.cpuSeconds)]]
      : []),
    ...(extract === undefined
      ? []
      : [['remote job extract stage / sftp get, wall time', ratio(extract / transfer.wallSeconds)]]),
    ['remote job / local job, peak RSS', ratio(remote.peakRssBytes / local.peakRssBytes)],
  ];
  return [
    markdownTable(
      'lrrrrrr',
      [
        'contestant',
        'wall s (median)',
        'CPU s (median)',
        'rows/s',
        'MB/s',
        'peak RSS MB (median)',
        'peak RSS MB (max)',
      ],
      [remote, transfer, local, reference].map((s) => resultRow(s, dataset)),
    ),
    markdownTable('lr', ['ratio', 'value'], ratios),
    markdownTable(
      'lll',
      ['target', 'measured', 'result'],
      [
        [
          `remote job ≤ ${TARGET_RATIO.toFixed(1)}× (sftp get + local job)`,
          ratio(timeRatio),
          timeRatio <= TARGET_RATIO ? '**pass**' : '**FAIL**',
        ],
      ],
    ),
    `Remote job stage times (median): ${stagesLine(remote)}`,
    `Local job stage times (median): ${stagesLine(local)}`,
  ].join('\n\n');
}

async function machine(loadAverage: string): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const reader = await connection.runAndReadAll('SELECT version() AS v');
  const duckdb = String(reader.getRowObjectsJson()[0].v);
  connection.closeSync();
  instance.closeSync();
  // ssh -V prints its version on stderr.
  const openssh = spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr;
  const ssh2 = JSON.parse(await readFile(join(ROOT, 'node_modules', 'ssh2', 'package.json'), 'utf8')) as {
    version: string;
  };
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${availableParallelism()} CPUs (${cpu}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}; Node ${process.version}; DuckDB ${duckdb}; ssh2 ${ssh2.version}; ${openssh.trim()} (client and server); load average ${loadAverage} when the benchmark started`;
}

function commandLine(): string {
  const args = process.argv.slice(2).join(' ');
  if (process.env.npm_lifecycle_event === 'bench:sftp')
    return `npm run bench:sftp${args ? ` -- ${args}` : ''}`;
  return `bin/node-24 bench/sftp-to-parquet.ts${args ? ` ${args}` : ''}`;
}

async function writeResults(section: string): Promise<void> {
  await writeResultsSection('sftp-to-parquet', section);
}

async function section(dataset: Dataset, runs: number, loadAverage: string, body: string): Promise<string> {
  return `## SFTP → Parquet

Written by \`bench/sftp-to-parquet.ts\`, which replaces only this section.

- **Date:** ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC
- **Command:** \`${commandLine()}\`
- **Machine:** ${await machine(loadAverage)}
- **Input:** ${formatRows(dataset.rows)} rows, ${mb(dataset.bytes)} MB (${formatRows(dataset.invalid)} rows invalid by design; generator seed ${dataset.seed}), served by OpenSSH's sshd (internal-sftp) on 127.0.0.1
- **Method:** the remote job is \`bench/jobs/transactions.yaml\` with its \`file\` source replaced by an \`sftp\` source (key auth, pinned host key) on the same server folder; the reference is OpenSSH's \`sftp -b\` doing \`get\` of the file (key auth, default request size and 64 requests in flight), then the unchanged job on the copy. Each step is its own process, timed wall-clock from spawn to exit; the reference's time is the sum of its two steps, run by run; median of ${runs} interleaved runs (order alternating). Peak RSS from ${rssMethod === 'gnu-time' ? "GNU time (%M, the kernel's ru_maxrss)" : '/proc/<pid>/status VmHWM, polled'}, of the client process only (sshd not counted, for either); the reference's RSS is its larger step's. CPU s is user + system of the client process. Rows/s and MB/s are input rows and CSV bytes over wall time. DuckDB memory_limit ${MEMORY_LIMIT}. Both inlet runs must account for every row, quarantine exactly the generated invalid rows and write Parquet that DuckDB reads back with the right count; the fetched copy must have the file's size.

${body}
`;
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      scale: { type: 'string', default: String(DEFAULT_SCALE) },
    },
  });
  const runs = Number(values.runs);
  const scale = Number(values.scale);
  if (!Number.isInteger(runs) || runs < 1) fail('--runs expects a positive integer');
  if (!Number.isInteger(scale) || scale < 1) fail('--scale expects a positive integer');
  return { runs, scale };
}

/** Runs one contestant in a fresh folder, removed afterwards (the copy alone is ~1 GB). */
async function inFreshDir<T>(name: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = join(WORK, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const result = await work(dir);
  await rm(dir, { recursive: true, force: true });
  return result;
}

async function main(): Promise<void> {
  const options = parseOptions();
  const dataset = await ensureDataset(DATA, options.scale, log);
  await rm(WORK, { recursive: true, force: true });
  await mkdir(WORK, { recursive: true });
  const server = await startSftpServer();
  try {
    const keyFile = join(WORK, 'client_key');
    await writeFile(keyFile, server.privateKey, { mode: 0o600 });
    const remotePath = await publish(dataset, server);
    const setup: Setup = {
      dataset,
      server,
      remotePath,
      keyFile,
      remoteJob: await writeRemoteJob(server, keyFile, basename(remotePath)),
    };
    await warmPageCache(dataset.path);
    const loadAverage = loadavg()[0].toFixed(2);
    log(
      `input ${dataset.path}: ${formatRows(dataset.rows)} rows, ${mb(dataset.bytes)} MB on sftp://${server.host}:${server.port}; load average ${loadAverage}`,
    );

    const samples = { remote: [] as Sample[], transfer: [] as Sample[], local: [] as Sample[] };
    for (let i = 0; i < options.runs; i++) {
      // Interleaved, alternating which goes first, so drift on a shared machine hits both alike.
      const steps = [
        async () => {
          log(`run ${i + 1}/${options.runs}: inlet, sftp source`);
          const sample = await inFreshDir(`remote-${i + 1}`, (dir) => remoteRun(setup, dir));
          log(`  ${sample.wallSeconds.toFixed(2)} s, ${mb(sample.peakRssBytes)} MB`);
          samples.remote.push(sample);
        },
        async () => {
          log(`run ${i + 1}/${options.runs}: sftp get, then inlet on the copy`);
          const { transfer, local } = await inFreshDir(`reference-${i + 1}`, (dir) =>
            transferThenLocal(setup, dir),
          );
          log(
            `  ${transfer.wallSeconds.toFixed(2)} s + ${local.wallSeconds.toFixed(2)} s, ${mb(transfer.peakRssBytes)} / ${mb(local.peakRssBytes)} MB`,
          );
          samples.transfer.push(transfer);
          samples.local.push(local);
        },
      ];
      if (i % 2) steps.reverse();
      for (const step of steps) await step();
    }
    const results: Results = {
      remote: summarize('inlet, sftp source (remote job)', samples.remote),
      transfer: summarize('OpenSSH sftp get', samples.transfer),
      local: summarize('inlet, file source on the copy (local job)', samples.local),
      reference: summarize(
        'sftp get + local job',
        samples.transfer.map((transfer, i) => combined(transfer, samples.local[i])),
      ),
    };
    const body = tables(results, dataset);
    await writeResults(await section(dataset, options.runs, loadAverage, body));
    process.stdout.write(`${body}\n`);
    log(`wrote the SFTP section of ${RESULTS}`);
  } finally {
    await server.stop();
  }
  await rm(WORK, { recursive: true, force: true });
}

try {
  await main();
} catch (error) {
  log(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
  log(`work files (if any) are kept in ${WORK}`);
  process.exitCode = 1;
}
