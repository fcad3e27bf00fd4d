/**
 * CSV → Parquet benchmark: inlet against DuckDB's own COPY (the reference) and a
 * hand-written Node pipeline (the baseline), on the same generated file, in the same run.
 * Each contestant is a separate child process so its peak RSS is its own. Writes
 * bench/RESULTS.md and prints the same tables. See bench/README.md.
 *
 *   npm run bench -- [--runs K] [--scale N] [--with-10x]
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { type Dataset, ensureDataset } from './generate-transactions.ts';
import { type Measured, measure, rssMethod } from './measure.ts';
import { writeResultsSection } from './results-file.ts';

const BENCH = import.meta.dirname;
const ROOT = resolve(BENCH, '..');
const DATA = join(BENCH, 'data');
const WORK = join(DATA, 'work');
const NODE = join(ROOT, 'bin', 'node-24');
const INLET = join(ROOT, 'bin', 'inlet');
const JOB = join(BENCH, 'jobs', 'transactions.yaml');
const RESULTS = join(BENCH, 'RESULTS.md');

/** DuckDB's buffer-manager cap, the same for inlet and for the reference COPY. */
const MEMORY_LIMIT = '512MB';
const TARGETS = { timeRatio: 1.5, rssBytes: 512e6, rssGrowth: 0.2 };

interface Sample {
  wallSeconds: number;
  peakRssBytes: number;
  cpuSeconds?: number;
  /** inlet only: seconds per run stage, from `inlet runs show`. */
  stageSeconds?: Record<string, number>;
}

interface Contestant {
  key: 'duckdb' | 'inlet' | 'node';
  label: string;
  run(dataset: Dataset, dir: string): Promise<Sample>;
}

interface Summary {
  label: string;
  runs: number;
  wallSeconds: number;
  cpuSeconds?: number;
  peakRssBytes: number;
  maxRssBytes: number;
  stageSeconds?: Record<string, number>;
}

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

function fail(message: string): never {
  throw new Error(message);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Throws with the tail of the child's stderr when it did not exit cleanly. */
function requireSuccess(name: string, run: Measured): void {
  if (run.exitCode === 0) return;
  const tail = run.stderr.trim().split('\n').slice(-15).join('\n');
  fail(
    `${name} exited with ${run.exitCode}\n--- stdout\n${run.stdout.trim().slice(-2000)}\n--- stderr (tail)\n${tail}`,
  );
}

/** Row count of the Parquet file(s) matched by `glob`, read back with DuckDB. */
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

async function expectParquetRows(name: string, glob: string, expected: number): Promise<void> {
  const rows = await parquetRows(glob);
  if (rows !== expected) fail(`${name}: the Parquet output has ${rows} rows, expected ${expected}`);
}

const duckdbCopy: Contestant = {
  key: 'duckdb',
  label: 'DuckDB COPY (reference)',
  async run(dataset, dir) {
    const output = join(dir, 'out.parquet');
    const run = await measure(NODE, [join(BENCH, 'duckdb-copy.ts'), dataset.path, output, MEMORY_LIMIT]);
    requireSuccess('DuckDB COPY', run);
    const { rows } = JSON.parse(run.stdout) as { rows: number };
    if (rows !== dataset.rows) fail(`DuckDB COPY reports ${rows} rows, expected ${dataset.rows}`);
    await expectParquetRows('DuckDB COPY', output, dataset.rows);
    return run;
  },
};

interface InletSummary {
  run_id: string;
  status: string;
  counts: { received: number; written: number; quarantined: number; filtered: number };
  units: { uri: string; status: string }[];
}

/** Fails unless inlet's run JSON accounts for every row of the file as generated. */
function checkInletSummary(summary: InletSummary, dataset: Dataset): void {
  const { counts } = summary;
  const problems: string[] = [];
  if (summary.status !== 'succeeded') problems.push(`status ${summary.status}`);
  if (counts.received !== dataset.rows)
    problems.push(`received ${counts.received}, the file has ${dataset.rows} rows`);
  if (counts.received !== counts.written + counts.quarantined + counts.filtered) {
    problems.push(`received ${counts.received} ≠ written + quarantined + filtered`);
  }
  if (counts.quarantined !== dataset.invalid)
    problems.push(`quarantined ${counts.quarantined}, generated ${dataset.invalid} invalid rows`);
  if (problems.length) fail(`inlet: ${problems.join('; ')}\n${JSON.stringify(summary)}`);
}

async function inletStageSeconds(runId: string, env: NodeJS.ProcessEnv): Promise<Record<string, number>> {
  const show = await measure(INLET, ['runs', 'show', runId, '--json'], { env });
  requireSuccess('inlet runs show', show);
  return (JSON.parse(show.stdout) as { stageSeconds: Record<string, number> }).stageSeconds;
}

const inlet: Contestant = {
  key: 'inlet',
  label: 'inlet',
  async run(dataset, dir) {
    const output = join(dir, 'out');
    // A fresh data directory per run: the ledger never skips the file as already ingested.
    const env = {
      ...process.env,
      BENCH_INPUT: dataset.path,
      BENCH_OUTPUT: output,
      INLET_DATA_DIR: join(dir, 'inlet-data'),
      INLET_MEMORY_LIMIT: MEMORY_LIMIT,
    };
    const run = await measure(INLET, ['run', JOB, '--json'], { env });
    requireSuccess('inlet run', run);
    const summary = JSON.parse(run.stdout) as InletSummary;
    checkInletSummary(summary, dataset);
    await expectParquetRows('inlet', join(output, '*.parquet'), dataset.rows - dataset.invalid);
    return { ...run, stageSeconds: await inletStageSeconds(summary.run_id, env) };
  },
};

const nodeBaseline: Contestant = {
  key: 'node',
  label: 'Node (csv-parse → parquetjs)',
  async run(dataset, dir) {
    const output = join(dir, 'out.parquet');
    const run = await measure(NODE, [
      join(BENCH, 'node-baseline.ts'),
      dataset.path,
      output,
      join(dir, 'quarantine.ndjson'),
    ]);
    requireSuccess('Node baseline', run);
    const counts = JSON.parse(run.stdout) as { received: number; written: number; quarantined: number };
    const valid = dataset.rows - dataset.invalid;
    if (
      counts.received !== dataset.rows ||
      counts.quarantined !== dataset.invalid ||
      counts.written !== valid
    ) {
      fail(
        `Node baseline: ${run.stdout.trim()}, expected ${dataset.rows} received and ${dataset.invalid} quarantined`,
      );
    }
    await expectParquetRows('Node baseline', output, valid);
    return run;
  },
};

/** Runs a contestant once in a fresh folder, removed afterwards (outputs are ~70 MB each). */
async function runOnce(contestant: Contestant, dataset: Dataset, tag: string): Promise<Sample> {
  const dir = join(WORK, `${contestant.key}-${tag}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const sample = await contestant.run(dataset, dir);
  await rm(dir, { recursive: true, force: true });
  const cpu = sample.cpuSeconds === undefined ? '' : ` (CPU ${sample.cpuSeconds.toFixed(2)} s)`;
  log(
    `${contestant.label}: ${sample.wallSeconds.toFixed(2)} s${cpu}, peak RSS ${mb(sample.peakRssBytes)} MB`,
  );
  return sample;
}

function summarize(label: string, samples: readonly Sample[]): Summary {
  const stages = samples[0].stageSeconds ? Object.keys(samples[0].stageSeconds) : [];
  return {
    label,
    runs: samples.length,
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

/** Reads the file once so that no contestant pays for a cold page cache. */
async function warmPageCache(path: string): Promise<void> {
  await pipeline(
    createReadStream(path, { highWaterMark: 1 << 20 }),
    async (chunks: AsyncIterable<Buffer>) => {
      for await (const _ of chunks);
    },
  );
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
const ratio = (value: number) => `${value.toFixed(2)}×`;
const verdict = (pass: boolean) => (pass ? '**pass**' : '**FAIL**');
const formatRows = (rows: number) => rows.toLocaleString('en-US');
const signedPercent = (fraction: number) => `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(0)}%`;

/**
 * A Markdown table laid out the way Biome formats one (cells padded to the column width),
 * so the generated RESULTS.md passes `biome check` as written. `align` is l or r per column.
 */
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
  const rowsPerSecond = Math.round(dataset.rows / summary.wallSeconds);
  const mbPerSecond = dataset.bytes / 1e6 / summary.wallSeconds;
  return [
    summary.label,
    summary.wallSeconds.toFixed(2),
    summary.cpuSeconds?.toFixed(2) ?? 'n/a',
    formatRows(rowsPerSecond),
    mbPerSecond.toFixed(1),
    mb(summary.peakRssBytes),
    mb(summary.maxRssBytes),
  ];
}

function stagesLine(summary: Summary): string {
  const stages = Object.entries(summary.stageSeconds ?? {});
  return stages.map(([stage, seconds]) => `${stage} ${seconds.toFixed(2)} s`).join(' · ') || 'n/a';
}

interface Report {
  dataset: Dataset;
  /** 1-minute load average before the first timing: other work on the machine skews the times. */
  loadAverage: string;
  runs: number;
  results: Record<Contestant['key'], Summary>;
  tenX?: { dataset: Dataset; summary: Summary };
}

/** The tables: results, ratios and targets (printed and written into RESULTS.md). */
function tables(report: Report): string {
  const { dataset, results, tenX } = report;
  const resultRows = [results.duckdb, results.inlet, results.node].map((s) => resultRow(s, dataset));
  if (tenX) {
    const label = `inlet, 10× input (${formatRows(tenX.dataset.rows)} rows)`;
    resultRows.push(resultRow({ ...tenX.summary, label }, tenX.dataset));
  }
  const timeVsDuckdb = results.inlet.wallSeconds / results.duckdb.wallSeconds;
  const timeVsNode = results.inlet.wallSeconds / results.node.wallSeconds;
  const rssGrowth = tenX ? tenX.summary.maxRssBytes / results.inlet.peakRssBytes : undefined;
  const ratios = [
    ['inlet / DuckDB COPY, wall time', ratio(timeVsDuckdb)],
    ['inlet / Node baseline, wall time', ratio(timeVsNode)],
    ...(results.inlet.cpuSeconds && results.duckdb.cpuSeconds
      ? [['inlet / DuckDB COPY, CPU time', ratio(results.inlet.cpuSeconds / results.duckdb.cpuSeconds)]]
      : []),
    ['inlet / DuckDB COPY, peak RSS', ratio(results.inlet.peakRssBytes / results.duckdb.peakRssBytes)],
    ['inlet / Node baseline, peak RSS', ratio(results.inlet.peakRssBytes / results.node.peakRssBytes)],
    ...(rssGrowth === undefined ? [] : [['inlet peak RSS, 10× input / 1× input', ratio(rssGrowth)]]),
  ];
  const runs = `max of ${results.inlet.runs} run${results.inlet.runs === 1 ? '' : 's'}`;
  const growthTarget = `inlet RSS within ${TARGETS.rssGrowth * 100}% when the input is 10× larger`;
  const targets = [
    [
      `inlet within ${TARGETS.timeRatio}× of DuckDB's plain COPY time`,
      ratio(timeVsDuckdb),
      verdict(timeVsDuckdb <= TARGETS.timeRatio),
    ],
    [
      `inlet peak RSS under ${mb(TARGETS.rssBytes)} MB`,
      `${mb(results.inlet.maxRssBytes)} MB (${runs})`,
      verdict(results.inlet.maxRssBytes < TARGETS.rssBytes),
    ],
    rssGrowth === undefined
      ? [growthTarget, 'not measured (pass --with-10x)', '–']
      : [
          growthTarget,
          `${mb(tenX!.summary.maxRssBytes)} MB vs ${mb(results.inlet.peakRssBytes)} MB (${signedPercent(rssGrowth - 1)})`,
          verdict(rssGrowth <= 1 + TARGETS.rssGrowth),
        ],
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
      resultRows,
    ),
    markdownTable('lr', ['ratio', 'value'], ratios),
    markdownTable('lll', ['target', 'measured', 'result'], targets),
    `inlet stage times (median): ${stagesLine(results.inlet)}`,
    ...(tenX ? [`inlet stage times, 10× input: ${stagesLine(tenX.summary)}`] : []),
  ].join('\n\n');
}

async function machine(loadAverage: string): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const reader = await connection.runAndReadAll('SELECT version() AS v');
  const duckdb = String(reader.getRowObjectsJson()[0].v);
  connection.closeSync();
  instance.closeSync();
  const api = JSON.parse(
    await readFile(join(ROOT, 'node_modules', '@duckdb', 'node-api', 'package.json'), 'utf8'),
  ) as { version: string };
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${availableParallelism()} CPUs (${cpu}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}; Node ${process.version}; DuckDB ${duckdb} (@duckdb/node-api ${api.version}); load average ${loadAverage} when the benchmark started`;
}

function commandLine(): string {
  const args = process.argv.slice(2).join(' ');
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${args ? ` -- ${args}` : ''}`;
  return `bin/node-24 bench/csv-to-parquet.ts${args ? ` ${args}` : ''}`;
}

async function writeResults(report: Report, body: string): Promise<void> {
  const { dataset } = report;
  const text = `## CSV → Parquet

Written by \`bench/csv-to-parquet.ts\`, which replaces only this section.

- **Date:** ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC
- **Command:** \`${commandLine()}\`
- **Machine:** ${await machine(report.loadAverage)}
- **Input:** ${formatRows(dataset.rows)} rows, ${(dataset.bytes / 1e6).toFixed(0)} MB (${formatRows(dataset.invalid)} rows invalid by design; generator seed ${dataset.seed})${report.tenX ? `; 10× input: ${formatRows(report.tenX.dataset.rows)} rows, ${(report.tenX.dataset.bytes / 1e6).toFixed(0)} MB` : ''}
- **Method:** each contestant is its own process, timed wall-clock from spawn to exit (start-up included); median of ${report.runs} interleaved runs; peak RSS from ${rssMethod === 'gnu-time' ? "GNU time (%M, the kernel's ru_maxrss)" : '/proc/<pid>/status VmHWM, polled'}; DuckDB memory_limit ${MEMORY_LIMIT} for both DuckDB and inlet, default threads. CPU s is user + system time (GNU time), a cross-check less disturbed than wall time by other load on a shared machine. Rows/s and MB/s are input rows and CSV bytes over wall time. Every output is read back with DuckDB and its row count checked; inlet's counts must account for every row and quarantine exactly the generated invalid rows.
- **Job:** \`bench/jobs/transactions.yaml\` (rename, cast, two validate rules, derive → Parquet); the Node baseline (\`bench/node-baseline.ts\`) does the same in JavaScript; the reference is a plain \`COPY (SELECT * FROM read_csv(…)) TO … (FORMAT parquet)\` with no transforms.

${body}
`;
  await writeResultsSection('csv-to-parquet', text);
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      scale: { type: 'string', default: '1' },
      'with-10x': { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  const scale = Number(values.scale);
  if (!Number.isInteger(runs) || runs < 1) fail('--runs expects a positive integer');
  if (!Number.isInteger(scale) || scale < 1) fail('--scale expects a positive integer');
  return { runs, scale, withTenX: values['with-10x'] };
}

async function main(): Promise<void> {
  const options = parseOptions();
  const dataset = await ensureDataset(DATA, options.scale, log);
  const tenXDataset = options.withTenX ? await ensureDataset(DATA, options.scale * 10, log) : undefined;
  await rm(WORK, { recursive: true, force: true });
  await warmPageCache(dataset.path);
  const loadAverage = loadavg()[0].toFixed(2);
  log(
    `input ${dataset.path}: ${formatRows(dataset.rows)} rows, ${mb(dataset.bytes)} MB; load average ${loadAverage}`,
  );

  const contestants = [duckdbCopy, inlet, nodeBaseline];
  const samples: Record<Contestant['key'], Sample[]> = { duckdb: [], inlet: [], node: [] };
  for (let i = 0; i < options.runs; i++) {
    // Interleaved and rotated, so drift on a shared machine and run order hit everyone alike.
    for (let j = 0; j < contestants.length; j++) {
      const contestant = contestants[(i + j) % contestants.length];
      log(`run ${i + 1}/${options.runs}: ${contestant.label}`);
      samples[contestant.key].push(await runOnce(contestant, dataset, String(i + 1)));
    }
  }
  const report: Report = {
    dataset,
    loadAverage,
    runs: options.runs,
    results: {
      duckdb: summarize(duckdbCopy.label, samples.duckdb),
      inlet: summarize(inlet.label, samples.inlet),
      node: summarize(nodeBaseline.label, samples.node),
    },
  };
  if (tenXDataset) {
    await warmPageCache(tenXDataset.path);
    log(`10× input: inlet alone on ${formatRows(tenXDataset.rows)} rows`);
    report.tenX = {
      dataset: tenXDataset,
      summary: summarize('inlet 10×', [await runOnce(inlet, tenXDataset, '10x')]),
    };
  }
  await rm(WORK, { recursive: true, force: true });
  const body = tables(report);
  await writeResults(report, body);
  process.stdout.write(`${body}\n`);
  log(`wrote ${RESULTS}`);
}

try {
  await main();
} catch (error) {
  log(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
  log(`work files (if any) are kept in ${WORK}`);
  process.exitCode = 1;
}
