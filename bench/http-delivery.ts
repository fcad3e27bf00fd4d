/**
 * HTTP delivery benchmark: an inlet job with an `http` sink (bench/jobs/crm-users.yaml:
 * OAuth2, ADD_CUST with per-record results, 8006 routed to UPD_CUST) against the mock CRM of
 * seed 001 on loopback, the mock in a process of its own so inlet's RSS and CPU are its own.
 *
 *   (a) rate-limited: mock at 1000 calls/minute and 50 ms latency, the sink's rate_limit at
 *       1000 calls/minute: limit utilisation over a multi-minute window, and calls above it;
 *   (b) unlimited: mock without a limit and 5 ms latency: records/s and peak RSS at a few
 *       concurrencies, against a hand-written Node script (bench/http-baseline.ts: csv-parse
 *       → fetch, same batches, same concurrency) in the same run;
 *   (c) an estimate, from those figures, of the wall time for seed 001's volumes.
 *
 * Updates its own section of bench/RESULTS.md and prints the same tables. See bench/README.md.
 *
 *   npm run bench:http -- [--minutes N] [--records N] [--concurrency 4,8,16] [--runs K]
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { parseDocument } from 'yaml';
import { MockProcess, type MockStats } from './crm-mock-process.ts';
import { ensureUsers, type UsersDataset } from './generate-users.ts';
import { type Measured, measure, rssMethod } from './measure.ts';
import { writeResultsSection } from './results-file.ts';

const BENCH = import.meta.dirname;
const ROOT = resolve(BENCH, '..');
const DATA = join(BENCH, 'data');
const WORK = join(DATA, 'work-http');
const NODE = join(ROOT, 'bin', 'node-24');
const INLET = join(ROOT, 'bin', 'inlet');
const BASELINE = join(BENCH, 'http-baseline.ts');
const JOB = join(BENCH, 'jobs', 'crm-users.yaml');
const RESULTS = join(BENCH, 'RESULTS.md');

/** Seed 001: at most 100 records per call and 1000 calls a minute. */
const BATCH = 100;
const CALLS_PER_MINUTE = 1000;
/** Latency of the mock in (a), as the issue asks: a slow-ish API that the limit, not latency, governs. */
const LIMITED_LATENCY_MS = 50;
const UNLIMITED_LATENCY_MS = 5;
/** Calls in flight in (a): 60 ms between grants and 50 ms calls need ~1; a few cover the jitter. */
const LIMITED_CONCURRENCY = 4;
const TARGET_UTILISATION = 0.95;
const TARGET_RECORDS_PER_SECOND = 20_000;

const log = (message: string) => process.stderr.write(`[bench:http] ${message}\n`);

function fail(message: string): never {
  throw new Error(message);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Throws with the tail of the child's output when it did not exit cleanly. */
function requireSuccess(name: string, run: Measured): void {
  if (run.exitCode === 0) return;
  const tail = run.stderr.trim().split('\n').slice(-15).join('\n');
  fail(
    `${name} exited with ${run.exitCode}\n--- stdout\n${run.stdout.trim().slice(-2000)}\n--- stderr (tail)\n${tail}`,
  );
}

// ---------------------------------------------------------------------------------------------
// Running inlet and the baseline

interface InletSummary {
  run_id: string;
  status: string;
  counts: { received: number; written: number; quarantined: number; filtered: number };
  units: { delivery?: { calls: number; retries: number; routed: Record<string, number> } }[];
}

interface Sample {
  wallSeconds: number;
  cpuSeconds?: number;
  peakRssBytes: number;
  /** The mock's CPU seconds during the run: the server side of the loopback, on the same 2 cores. */
  mockCpuSeconds: number;
  /** inlet only: seconds per run stage, from `inlet runs show`. */
  stageSeconds?: Record<string, number>;
  /** inlet only: the metadata store's size after the run (inlet.db + its WAL). */
  storeBytes?: number;
}

/** bench/jobs/crm-users.yaml with this scenario's concurrency and, for (a), the rate limit. */
async function writeJob(name: string, concurrency: number, callsPerMinute?: number): Promise<string> {
  const doc = parseDocument(await readFile(JOB, 'utf8'));
  doc.setIn(['sink', 'concurrency'], concurrency);
  if (callsPerMinute !== undefined)
    doc.setIn(['sink', 'rate_limit'], doc.createNode({ calls_per_minute: callsPerMinute }));
  const path = join(WORK, `${name}.yaml`);
  await writeFile(path, doc.toString());
  return path;
}

/** Runs the job in a fresh data directory and checks that inlet delivered every record once. */
async function runInlet(
  job: string,
  dataset: UsersDataset,
  mock: MockProcess,
  dataDir: string,
): Promise<Sample & { dataDir: string }> {
  await rm(dataDir, { recursive: true, force: true });
  const env = {
    ...process.env,
    BENCH_INPUT: dataset.path,
    CRM: mock.url,
    INLET_ALLOW_PRIVATE_NETWORKS: 'true',
    INLET_DATA_DIR: dataDir,
  };
  await mock.reset();
  const cpuBefore = mock.cpuSeconds();
  const run = await measure(INLET, ['run', job, '--json'], { env });
  const mockCpuSeconds = mock.cpuSeconds() - cpuBefore;
  requireSuccess('inlet', run);
  const summary = JSON.parse(run.stdout) as InletSummary;
  const calls = Math.ceil(dataset.rows / BATCH);
  const delivery = summary.units[0]?.delivery;
  if (
    summary.status !== 'succeeded' ||
    summary.counts.received !== dataset.rows ||
    summary.counts.written !== dataset.rows ||
    delivery?.calls !== calls
  ) {
    fail(`inlet: expected ${dataset.rows} records in ${calls} calls; got ${run.stdout.trim()}`);
  }
  await checkMock(mock, dataset, 'inlet');
  const show = await measure(INLET, ['runs', 'show', summary.run_id, '--json'], { env });
  requireSuccess('inlet runs show', show);
  const { stageSeconds } = JSON.parse(show.stdout) as { stageSeconds: Record<string, number> };
  let storeBytes = 0;
  for (const file of ['inlet.db', 'inlet.db-wal'])
    storeBytes += await stat(join(dataDir, file)).then(
      (s) => s.size,
      () => 0,
    );
  return {
    wallSeconds: run.wallSeconds,
    cpuSeconds: run.cpuSeconds,
    peakRssBytes: run.peakRssBytes,
    mockCpuSeconds,
    stageSeconds,
    storeBytes,
    dataDir,
  };
}

/** The hand-written reference: csv-parse → fetch, same batches and concurrency. */
async function runBaseline(dataset: UsersDataset, mock: MockProcess, concurrency: number): Promise<Sample> {
  await mock.reset();
  const cpuBefore = mock.cpuSeconds();
  const run = await measure(NODE, [BASELINE, dataset.path, mock.url, String(concurrency), String(BATCH)]);
  const mockCpuSeconds = mock.cpuSeconds() - cpuBefore;
  requireSuccess('Node baseline', run);
  const out = JSON.parse(run.stdout) as { records: number; codes: Record<string, number> };
  if (out.records !== dataset.rows || out.codes['200'] !== dataset.rows)
    fail(`Node baseline: expected ${dataset.rows} records answered 200; got ${run.stdout.trim()}`);
  await checkMock(mock, dataset, 'Node baseline');
  return {
    wallSeconds: run.wallSeconds,
    cpuSeconds: run.cpuSeconds,
    peakRssBytes: run.peakRssBytes,
    mockCpuSeconds,
  };
}

/** The CRM's own count: every record created once, in full batches, nothing refused. */
async function checkMock(mock: MockProcess, dataset: UsersDataset, who: string): Promise<MockStats> {
  const stats = await mock.stats();
  const calls = Math.ceil(dataset.rows / BATCH);
  if (
    stats.customers !== dataset.rows ||
    stats.records.ADD_CUST['200'] !== dataset.rows ||
    stats.calls.ADD_CUST !== calls ||
    stats.duplicate_deliveries !== 0 ||
    stats.unauthorized !== 0
  ) {
    fail(
      `${who}: the mock CRM saw ${JSON.stringify(stats)}; expected ${dataset.rows} customers in ${calls} calls`,
    );
  }
  return stats;
}

// ---------------------------------------------------------------------------------------------
// (a) the rate-limited scenario

interface Limited {
  dataset: UsersDataset;
  sample: Sample;
  stats: MockStats;
  /** Calls answered 200, as the store recorded them, and the span from the first to the last. */
  calls: number;
  spanSeconds: number;
  /** (calls − 1) intervals over the span, against the limit's 1000 a minute. */
  utilisation: number;
  /** The most calls the store recorded in any rolling 60 s. */
  clientMaxPerMinute: number;
  /** Calls in each whole minute from the first call. */
  perMinute: number[];
  gapsMs: { mean: number; p50: number; p99: number; max: number; min: number };
  rateLimited: number;
}

async function limitedScenario(minutes: number): Promise<Limited> {
  const dataset = await ensureUsers(DATA, minutes * CALLS_PER_MINUTE * BATCH, log);
  const job = await writeJob('limited', LIMITED_CONCURRENCY, CALLS_PER_MINUTE);
  const mock = await MockProcess.start(CALLS_PER_MINUTE, LIMITED_LATENCY_MS);
  try {
    log(
      `(a) ${dataset.rows.toLocaleString('en-US')} users at ${CALLS_PER_MINUTE} calls/min, ${LIMITED_LATENCY_MS} ms latency: ~${minutes} min`,
    );
    const sample = await runInlet(job, dataset, mock, join(WORK, 'limited-data'));
    const stats = await mock.stats();
    const db = new DatabaseSync(join(sample.dataDir, 'inlet.db'), { readOnly: true });
    let rows: { at: string; status: number }[];
    try {
      rows = db.prepare('SELECT at, status FROM http_calls ORDER BY id').all() as typeof rows;
    } finally {
      db.close();
    }
    const times = rows
      .filter((r) => r.status === 200)
      .map((r) => Date.parse(r.at))
      .sort((a, b) => a - b);
    const rateLimited = rows.filter((r) => r.status === 429).length;
    if (times.length !== stats.calls.ADD_CUST)
      fail(`(a) the store recorded ${times.length} calls answered 200, the mock ${stats.calls.ADD_CUST}`);
    const spanMs = times.at(-1)! - times[0];
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    const sortedGaps = [...gaps].sort((a, b) => a - b);
    let clientMax = 0;
    for (let from = 0, to = 0; from < times.length; from++) {
      while (to < times.length && times[to] < times[from] + 60_000) to++;
      clientMax = Math.max(clientMax, to - from);
    }
    const perMinute: number[] = [];
    for (const t of times) {
      const minute = Math.floor((t - times[0]) / 60_000);
      perMinute[minute] = (perMinute[minute] ?? 0) + 1;
    }
    // Only whole minutes: the last one is cut short by the end of the file.
    const wholeMinutes = Math.floor(spanMs / 60_000);
    return {
      dataset,
      sample,
      stats,
      calls: times.length,
      spanSeconds: spanMs / 1000,
      utilisation: (times.length - 1) / ((spanMs / 60_000) * CALLS_PER_MINUTE),
      clientMaxPerMinute: clientMax,
      perMinute: perMinute.slice(0, wholeMinutes),
      gapsMs: {
        mean: spanMs / gaps.length,
        p50: percentile(sortedGaps, 0.5),
        p99: percentile(sortedGaps, 0.99),
        max: sortedGaps.at(-1)!,
        min: sortedGaps[0],
      },
      rateLimited,
    };
  } finally {
    await mock.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// (b) the unlimited scenario

interface Summary {
  wallSeconds: number;
  cpuSeconds?: number;
  peakRssBytes: number;
  maxRssBytes: number;
  mockCpuSeconds: number;
  stageSeconds?: Record<string, number>;
  storeBytes?: number;
}

function summarize(samples: readonly Sample[]): Summary {
  const stages = samples[0].stageSeconds ? Object.keys(samples[0].stageSeconds) : [];
  return {
    wallSeconds: median(samples.map((s) => s.wallSeconds)),
    ...(samples.every((s) => s.cpuSeconds !== undefined)
      ? { cpuSeconds: median(samples.map((s) => s.cpuSeconds!)) }
      : {}),
    peakRssBytes: median(samples.map((s) => s.peakRssBytes)),
    maxRssBytes: Math.max(...samples.map((s) => s.peakRssBytes)),
    mockCpuSeconds: median(samples.map((s) => s.mockCpuSeconds)),
    ...(stages.length
      ? {
          stageSeconds: Object.fromEntries(
            stages.map((stage) => [stage, median(samples.map((s) => s.stageSeconds?.[stage] ?? 0))]),
          ),
        }
      : {}),
    ...(samples[0].storeBytes === undefined ? {} : { storeBytes: median(samples.map((s) => s.storeBytes!)) }),
  };
}

interface Unlimited {
  dataset: UsersDataset;
  byConcurrency: { concurrency: number; inlet: Summary; baseline: Summary }[];
  /** The entry where inlet delivered the most records/s. */
  best: { concurrency: number; inlet: Summary; baseline: Summary };
  /** At the best concurrency, inlet with its data directory on disk and on tmpfs, interleaved. */
  storeCost?: { disk: Summary; tmpfs: Summary };
}

/** A RAM-backed folder, where fsync costs nothing: the store's durability cost shows as the difference. */
const TMPFS = '/dev/shm';

async function unlimitedScenario(records: number, concurrencies: number[], runs: number): Promise<Unlimited> {
  const dataset = await ensureUsers(DATA, records, log);
  const mock = await MockProcess.start(0, UNLIMITED_LATENCY_MS);
  try {
    const samples = new Map(
      concurrencies.map((c) => [c, { inlet: [] as Sample[], baseline: [] as Sample[] }]),
    );
    const jobs = new Map<number, string>();
    for (const c of concurrencies) jobs.set(c, await writeJob(`unlimited-c${c}`, c));
    for (let i = 0; i < runs; i++) {
      for (const c of concurrencies) {
        // Interleaved, alternating which goes first, so drift on a shared machine hits both alike.
        const steps = [
          async () => {
            const sample = await runInlet(jobs.get(c)!, dataset, mock, join(WORK, `unlimited-data-c${c}`));
            log(
              `  inlet c=${c}: ${sample.wallSeconds.toFixed(2)} s, ${rate(dataset.rows / sample.wallSeconds)} records/s, ${mb(sample.peakRssBytes)} MB`,
            );
            samples.get(c)!.inlet.push(sample);
          },
          async () => {
            const sample = await runBaseline(dataset, mock, c);
            log(
              `  Node baseline c=${c}: ${sample.wallSeconds.toFixed(2)} s, ${rate(dataset.rows / sample.wallSeconds)} records/s, ${mb(sample.peakRssBytes)} MB`,
            );
            samples.get(c)!.baseline.push(sample);
          },
        ];
        if (i % 2) steps.reverse();
        log(`(b) run ${i + 1}/${runs}, concurrency ${c}`);
        for (const step of steps) await step();
      }
    }
    const byConcurrency = concurrencies.map((concurrency) => ({
      concurrency,
      inlet: summarize(samples.get(concurrency)!.inlet),
      baseline: summarize(samples.get(concurrency)!.baseline),
    }));
    const best = byConcurrency.reduce((a, b) => (b.inlet.wallSeconds < a.inlet.wallSeconds ? b : a));
    return {
      dataset,
      byConcurrency,
      best,
      storeCost: await storeCost(dataset, mock, best.concurrency, runs),
    };
  } finally {
    await mock.stop();
  }
}

/**
 * The same job at the same concurrency with INLET_DATA_DIR on disk and on tmpfs, interleaved:
 * the store commits each call's record and each batch's outcomes on its own (synchronous =
 * FULL), so the difference is what those fsyncs cost the delivery. Nothing else changes.
 */
async function storeCost(
  dataset: UsersDataset,
  mock: MockProcess,
  concurrency: number,
  runs: number,
): Promise<{ disk: Summary; tmpfs: Summary } | undefined> {
  if (!existsSync(TMPFS)) return undefined;
  const job = join(WORK, `unlimited-c${concurrency}.yaml`);
  const tmpfsDir = join(TMPFS, `inlet-bench-http-${process.pid}`);
  const disk: Sample[] = [];
  const tmpfs: Sample[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const steps = [
        async () => disk.push(await runInlet(job, dataset, mock, join(WORK, 'store-disk'))),
        async () => tmpfs.push(await runInlet(job, dataset, mock, tmpfsDir)),
      ];
      if (i % 2) steps.reverse();
      for (const step of steps) await step();
      log(
        `(b) store cost ${i + 1}/${runs}, concurrency ${concurrency}: disk ${disk.at(-1)!.wallSeconds.toFixed(2)} s, tmpfs ${tmpfs.at(-1)!.wallSeconds.toFixed(2)} s`,
      );
    }
  } finally {
    await rm(tmpfsDir, { recursive: true, force: true });
  }
  return { disk: summarize(disk), tmpfs: summarize(tmpfs) };
}

// ---------------------------------------------------------------------------------------------
// Report

const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
const rate = (value: number) => Math.round(value).toLocaleString('en-US');
const ratio = (value: number) => `${value.toFixed(2)}×`;
const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
const seconds = (value: number | undefined) => (value === undefined ? 'n/a' : value.toFixed(2));
const count = (value: number) => value.toLocaleString('en-US');

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

const verdict = (pass: boolean) => (pass ? '**pass**' : '**FAIL**');

function limitedTables(a: Limited): string {
  const { stats, gapsMs } = a;
  return [
    markdownTable(
      'lr',
      ['measure', 'value'],
      [
        ['users (records) delivered', count(a.dataset.rows)],
        ['calls answered 200 (mock / store)', `${count(stats.calls.ADD_CUST)} / ${count(a.calls)}`],
        [
          'window, first to last call',
          `${a.spanSeconds.toFixed(1)} s (${(a.spanSeconds / 60).toFixed(2)} min)`,
        ],
        ['**limit utilisation** (calls − 1) / (window × 1000/min)', percent(a.utilisation)],
        ['records/s over the window', rate(((a.calls - 1) * BATCH) / a.spanSeconds)],
        ['max calls in any rolling minute (mock)', count(stats.max_calls_in_any_minute)],
        ['max calls in any rolling minute (store timestamps)', count(a.clientMaxPerMinute)],
        ['calls refused over the limit (mock `over_limit`)', count(stats.over_limit)],
        ['429 answers recorded by inlet', count(a.rateLimited)],
        ['calls in each whole minute from the first', a.perMinute.map(count).join(', ') || 'n/a'],
        [
          'gap between calls, ms: mean · median · p99 · min · max',
          `${gapsMs.mean.toFixed(2)} · ${gapsMs.p50} · ${gapsMs.p99} · ${gapsMs.min} · ${gapsMs.max}`,
        ],
        ['inlet wall time (spawn to exit)', `${a.sample.wallSeconds.toFixed(1)} s`],
        ['inlet CPU time (user + system)', `${seconds(a.sample.cpuSeconds)} s`],
        ['inlet peak RSS', `${mb(a.sample.peakRssBytes)} MB`],
      ],
    ),
    `inlet stage times: ${stagesLine(a.sample.stageSeconds)}`,
  ].join('\n\n');
}

function stagesLine(stageSeconds: Record<string, number> | undefined): string {
  const stages = Object.entries(stageSeconds ?? {});
  return stages.map(([stage, s]) => `${stage} ${s.toFixed(2)} s`).join(' · ') || 'n/a';
}

function unlimitedTables(b: Unlimited): string {
  const rows = b.dataset.rows;
  const lines: string[][] = [];
  for (const { concurrency, inlet, baseline } of b.byConcurrency) {
    const mark = concurrency === b.best.concurrency ? ' (best)' : '';
    for (const [label, s] of [
      [`inlet, concurrency ${concurrency}${mark}`, inlet],
      [`Node baseline, concurrency ${concurrency}`, baseline],
    ] as const) {
      lines.push([
        label,
        s.wallSeconds.toFixed(2),
        seconds(s.cpuSeconds),
        rate(rows / s.wallSeconds),
        s.stageSeconds ? rate(rows / s.stageSeconds.load) : '–',
        mb(s.peakRssBytes),
        mb(s.maxRssBytes),
        s.mockCpuSeconds.toFixed(2),
      ]);
    }
  }
  const { inlet, baseline } = b.best;
  const stagesTotal = Object.values(inlet.stageSeconds ?? {}).reduce((x, y) => x + y, 0);
  return [
    markdownTable(
      'lrrrrrrr',
      [
        'contestant',
        'wall s (median)',
        'CPU s (median)',
        'records/s (wall)',
        'records/s (load stage)',
        'peak RSS MB (median)',
        'peak RSS MB (max)',
        'mock CPU s',
      ],
      lines,
    ),
    markdownTable(
      'lr',
      ['ratio (best inlet concurrency, same concurrency for the baseline)', 'value'],
      [
        ['inlet / Node baseline, wall time', ratio(inlet.wallSeconds / baseline.wallSeconds)],
        ...(inlet.cpuSeconds && baseline.cpuSeconds
          ? [['inlet / Node baseline, CPU time', ratio(inlet.cpuSeconds / baseline.cpuSeconds)]]
          : []),
        ['inlet / Node baseline, peak RSS', ratio(inlet.peakRssBytes / baseline.peakRssBytes)],
        ['inlet records/s, all stages (plan → commit)', rate(rows / stagesTotal)],
        [
          'CPU busy, inlet + mock over 2 cores × inlet wall time',
          percent(
            ((inlet.cpuSeconds ?? 0) + inlet.mockCpuSeconds) / (availableParallelism() * inlet.wallSeconds),
          ),
        ],
        [
          'CPU busy, baseline + mock over 2 cores × baseline wall time',
          percent(
            ((baseline.cpuSeconds ?? 0) + baseline.mockCpuSeconds) /
              (availableParallelism() * baseline.wallSeconds),
          ),
        ],
      ],
    ),
    ...(b.storeCost ? [storeCostTable(b)] : []),
    `inlet stage times at concurrency ${b.best.concurrency} (median): ${stagesLine(inlet.stageSeconds)}`,
    `inlet's metadata store after one run (inlet.db + WAL): ${mb(inlet.storeBytes ?? 0)} MB for ${count(Math.ceil(rows / BATCH))} calls, ${rate((inlet.storeBytes ?? 0) / Math.ceil(rows / BATCH))} bytes a call`,
  ].join('\n\n');
}

function storeCostTable(b: Unlimited): string {
  const { disk, tmpfs } = b.storeCost!;
  const rows = b.dataset.rows;
  const line = (label: string, s: Summary) => [
    label,
    s.wallSeconds.toFixed(2),
    seconds(s.cpuSeconds),
    rate(rows / s.wallSeconds),
    s.stageSeconds ? rate(rows / s.stageSeconds.load) : '–',
  ];
  return [
    `What the store's per-call commits cost: the same job at concurrency ${b.best.concurrency}, its data directory (inlet.db) on disk and on tmpfs, where fsync is free; median of the interleaved runs:`,
    markdownTable(
      'lrrrr',
      ['inlet data directory', 'wall s', 'CPU s', 'records/s (wall)', 'records/s (load stage)'],
      [
        line('on disk (as in the table above)', disk),
        line('on tmpfs (/dev/shm)', tmpfs),
        [
          'disk / tmpfs',
          ratio(disk.wallSeconds / tmpfs.wallSeconds),
          disk.cpuSeconds && tmpfs.cpuSeconds ? ratio(disk.cpuSeconds / tmpfs.cpuSeconds) : 'n/a',
          '',
          disk.stageSeconds && tmpfs.stageSeconds
            ? ratio(disk.stageSeconds.load / tmpfs.stageSeconds.load)
            : 'n/a',
        ],
      ],
    ),
  ].join('\n\n');
}

function targetsTable(a: Limited, b: Unlimited): string {
  const best = b.dataset.rows / b.best.inlet.wallSeconds;
  const zeroOver = a.stats.over_limit === 0 && a.stats.max_calls_in_any_minute <= CALLS_PER_MINUTE;
  return markdownTable(
    'lll',
    ['target', 'measured', 'result'],
    [
      [
        `(a) limit utilisation ≥ ${percent(TARGET_UTILISATION)} over a ${(a.spanSeconds / 60).toFixed(1)}-minute window`,
        percent(a.utilisation),
        verdict(a.utilisation >= TARGET_UTILISATION),
      ],
      [
        '(a) zero calls above the limit',
        `${count(a.stats.over_limit)} refused; busiest minute ${count(a.stats.max_calls_in_any_minute)}`,
        verdict(zeroOver),
      ],
      [
        `(b) ≥ ${count(TARGET_RECORDS_PER_SECOND)} records/s at ${BATCH} records a call (wall, start-up included)`,
        `${rate(best)} records/s (concurrency ${b.best.concurrency})`,
        verdict(best >= TARGET_RECORDS_PER_SECOND),
      ],
    ],
  );
}

/** (c): seed 001's volumes at the measured figures. */
function estimate(a: Limited, b: Unlimited): string {
  const users = 20_000_000;
  const transactions = 100_000_000;
  const perQuotaPerMinute = CALLS_PER_MINUTE * BATCH * a.utilisation;
  const minutesFor = (records: number, quotas: number) => records / (perQuotaPerMinute * quotas);
  const hours = (minutes: number) => `${(minutes / 60).toFixed(1)} h`;
  const totalMinutes = minutesFor(users + transactions, 1);
  const quotasWithin = (h: number) => Math.ceil(totalMinutes / (h * 60));
  const { inlet } = b.best;
  const workerRecordsPerMinute = (b.dataset.rows / inlet.wallSeconds) * 60;
  const quotasPerWorker = workerRecordsPerMinute / perQuotaPerMinute;
  const calls = (users + transactions) / BATCH;
  const callsInB = Math.ceil(b.dataset.rows / BATCH);
  const bytesPerCall = (inlet.storeBytes ?? 0) / callsInB;
  const cpuPerCall = (inlet.cpuSeconds ?? 0) / callsInB;
  const busy =
    ((inlet.cpuSeconds ?? 0) + inlet.mockCpuSeconds) / (availableParallelism() * inlet.wallSeconds);
  const inFlightPerQuota = (CALLS_PER_MINUTE / 60) * (LIMITED_LATENCY_MS / 1000);
  const rows = [
    ['20 M users (ADD_CUST)', 1, minutesFor(users, 1)],
    ['100 M transactions (ADD_TRX)', 1, minutesFor(transactions, 1)],
    ['both, one quota', 1, totalMinutes],
    ['both, within 24 h', quotasWithin(24), minutesFor(users + transactions, quotasWithin(24))],
    ['both, within 8 h', quotasWithin(8), minutesFor(users + transactions, quotasWithin(8))],
    ['both, within 1 h', quotasWithin(1), minutesFor(users + transactions, quotasWithin(1))],
  ] as const;
  return [
    `One endpoint quota is ${count(CALLS_PER_MINUTE)} calls/min × ${BATCH} records = ${count(CALLS_PER_MINUTE * BATCH)} records/min at full use; at the utilisation measured in (a), ${percent(a.utilisation)}, that is ${rate(perQuotaPerMinute)} records/min (${rate(perQuotaPerMinute / 60)} records/s). One inlet worker delivered ${rate(workerRecordsPerMinute / 60)} records/s in (b), the throughput of ~${quotasPerWorker.toFixed(0)} quotas.`,
    markdownTable(
      'lrrr',
      [
        'workload (seed 001)',
        'quotas (1000 calls/min each)',
        'wall time',
        "share of one worker's (b) throughput",
      ],
      rows.map(([label, quotas, minutes]) => [
        label,
        String(quotas),
        `${rate(minutes)} min (${hours(minutes)})`,
        percent(quotas / quotasPerWorker),
      ]),
    ),
    `- **Quotas decide the wall time, not inlet.** On one quota the whole load takes ${hours(totalMinutes)}; ${quotasWithin(8)} quotas bring it under 8 h, ${quotasWithin(24)} under 24 h. 20 M users are ${count(users / BATCH)} calls only if none exists yet: each customer answered 8006 costs a second call (UPD_CUST), so with a share *s* of existing customers the users take ${rate(minutesFor(users, 1))} × (1 + s) min on one quota. Transactions should follow the users they reference; with two quotas, users then transactions take ${hours(minutesFor(users, 2) + minutesFor(transactions, 2))}.`,
    `- **Workers.** One worker keeps up with ~${quotasPerWorker.toFixed(0)} quotas at the (b) rate. In (b) inlet used one core's worth of CPU (${seconds(inlet.cpuSeconds)} s in ${inlet.wallSeconds.toFixed(2)} s wall; its JavaScript runs on one thread) while inlet and the mock together kept the two cores only ${percent(busy)} busy: more cores do not make one worker faster, more worker processes do. Planned at no more than ~2/3 of its measured throughput (real networks, retries, 8006 re-calls), one worker serves up to ~${Math.floor((quotasPerWorker * 2) / 3)} quotas; a second worker is for availability. Calls in flight must cover rate × latency: ${(CALLS_PER_MINUTE / 60).toFixed(1)} calls/s × ${LIMITED_LATENCY_MS} ms ≈ ${inFlightPerQuota.toFixed(1)} per quota at the latency of (a); \`concurrency\` is capped at 64 per sink, so one job reaches ~16 quotas at 4 calls in flight each (≈ 240 ms of latency headroom), ~30 at 2.`,
    `- **What the load costs inlet.** ${count(calls)} calls; at the ${(cpuPerCall * 1000).toFixed(1)} ms of inlet CPU per call of (b) (start-up included), ${hours((cpuPerCall * calls) / 60)} of CPU in all, spread over the run. The metadata store grows by ~${count(Math.round(bytesPerCall))} bytes a call (http_calls + the batch ledger), ~${((bytesPerCall * calls) / 1e9).toFixed(1)} GB for the whole load: nothing trims these tables yet (see README.md).`,
    `- **Several quotas, several hosts.** The shared limiter is keyed by the API's origin: k quotas on one origin can only be written as one \`rate_limit\` of k × ${count(CALLS_PER_MINUTE)} calls/min, which is right only when the API pools them; quotas tied to separate credentials get their own \`rate_limit.quota\` name. The limit is shared through the metadata store, today a SQLite file, so workers sharing one quota must share one host until the PostgreSQL store of DESIGN.md exists.`,
  ].join('\n\n');
}

async function machine(loadAverage: string): Promise<string> {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const fastify = JSON.parse(
    await readFile(join(ROOT, 'node_modules', 'fastify', 'package.json'), 'utf8'),
  ) as {
    version: string;
  };
  return `${availableParallelism()} CPUs (${cpu}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}; Node ${process.version}; mock CRM on Fastify ${fastify.version}; load average ${loadAverage} when the benchmark started`;
}

function commandLine(): string {
  const args = process.argv.slice(2).join(' ');
  if (process.env.npm_lifecycle_event === 'bench:http')
    return `npm run bench:http${args ? ` -- ${args}` : ''}`;
  return `bin/node-24 bench/http-delivery.ts${args ? ` ${args}` : ''}`;
}

async function section(a: Limited, b: Unlimited, runs: number, loadAverage: string): Promise<string> {
  const rss =
    rssMethod === 'gnu-time' ? "GNU time (%M, the kernel's ru_maxrss)" : '/proc/<pid>/status VmHWM, polled';
  return `## HTTP delivery → mock CRM

Written by \`bench/http-delivery.ts\`, which replaces only this section.

- **Date:** ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC
- **Command:** \`${commandLine()}\`
- **Machine:** ${await machine(loadAverage)}
- **Job:** \`bench/jobs/crm-users.yaml\`: the users CSV (\`generate-users.ts\`, 6 columns, a quoted name on every row, all valid; seed ${b.dataset.seed}) → ADD_CUST in batches of ${BATCH}, OAuth2 client credentials, per-record results, 8006 routed to UPD_CUST, 3217 and conflicting profiles failed, idempotency keys, every call recorded in the store (http_calls) and every batch in the ledger (http_batches). The benchmark sets only \`sink.concurrency\` and, for (a), \`sink.rate_limit\`.
- **Method:** the mock CRM (\`examples/crm/mock-crm.ts\`, seed 001's API) runs in its own process on 127.0.0.1 and is reset before every run, so every record is a new customer answered 200; each run is checked against the mock's own counts (every customer created once, one call per ${BATCH} records, no replays, no 401). inlet and the baseline are separate processes timed wall-clock from spawn to exit (start-up included); peak RSS from ${rss}; CPU s is user + system of that process; "mock CPU s" is the mock's CPU during the run (it shares the 2 cores).

### (a) Rate-limited: ${count(CALLS_PER_MINUTE)} calls/minute, ${LIMITED_LATENCY_MS} ms latency

The mock refuses (429) any call that would make more than ${count(CALLS_PER_MINUTE)} accepted calls in a rolling 60 s; the sink has \`rate_limit: {calls_per_minute: ${CALLS_PER_MINUTE}}\` (GCRA in the store, burst 0) and \`concurrency: ${LIMITED_CONCURRENCY}\`. Utilisation counts the intervals between calls: (calls answered 200 − 1) over the time from the first to the last (store timestamps, taken as each answer is recorded), against ${count(CALLS_PER_MINUTE)} a minute; the mock's \`max_calls_in_any_minute\` and \`over_limit\` are its own counts.

${limitedTables(a)}

### (b) Unlimited: no rate limit, ${UNLIMITED_LATENCY_MS} ms latency, ${count(b.dataset.rows)} records

The same job without \`rate_limit\`, at ${b.byConcurrency.map((x) => x.concurrency).join(', ')} calls in flight; the reference is \`bench/http-baseline.ts\`, what a Node user would write by hand: one token, csv-parse → batches of ${BATCH} → \`fetch\` at the same concurrency, counting each answer's per-record codes (no token refresh, response rules, retries, call log or ledger). Median of ${runs} interleaved runs per concurrency (order alternating); then, at the best concurrency, ${runs} more interleaved pairs of inlet runs with the data directory on disk and on tmpfs. Records/s (wall) is records over wall time; records/s (load stage) is records over the run's own load stage (\`inlet runs show\`), which is where delivery happens.

${unlimitedTables(b)}

### Targets

${targetsTable(a, b)}

### (c) Estimate for seed 001: 20 M users and 100 M transactions at 1000 calls/minute

${estimate(a, b)}
`;
}

// ---------------------------------------------------------------------------------------------

function parseOptions() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '4' },
      records: { type: 'string', default: '500000' },
      concurrency: { type: 'string', default: '4,8,16' },
      runs: { type: 'string', default: '3' },
    },
  });
  const minutes = Number(values.minutes);
  const records = Number(values.records);
  const runs = Number(values.runs);
  const concurrencies = values.concurrency.split(',').map(Number);
  if (!Number.isInteger(minutes) || minutes < 1) fail('--minutes expects a whole number ≥ 1');
  if (!Number.isInteger(records) || records < BATCH) fail(`--records expects a whole number ≥ ${BATCH}`);
  if (!Number.isInteger(runs) || runs < 1) fail('--runs expects a positive integer');
  if (!concurrencies.every((c) => Number.isInteger(c) && c >= 1 && c <= 64))
    fail('--concurrency expects a comma-separated list of whole numbers 1..64');
  return { minutes, records, runs, concurrencies };
}

async function main(): Promise<void> {
  const options = parseOptions();
  await rm(WORK, { recursive: true, force: true });
  await mkdir(WORK, { recursive: true });
  const loadAverage = loadavg()[0].toFixed(2);
  log(`load average ${loadAverage}`);
  const b = await unlimitedScenario(options.records, options.concurrencies, options.runs);
  const a = await limitedScenario(options.minutes);
  const text = await section(a, b, options.runs, loadAverage);
  await writeResultsSection('http-delivery', text);
  process.stdout.write(`${text}\n`);
  log(`wrote the HTTP delivery section of ${RESULTS}`);
  await rm(WORK, { recursive: true, force: true });
}

try {
  await main();
} catch (error) {
  log(`FAILED: ${error instanceof Error ? error.message : String(error)}`);
  log(`work files (if any) are kept in ${WORK}`);
  process.exitCode = 1;
}
