import type { HttpCallRecord } from '../core/connector.ts';
import type { RunRecord, UnitRecord } from '../store/store.ts';

/** One file's reconciliation: where each of its records ended up. */
export interface FileReport {
  uri: string;
  status: string;
  /** Records decoded from the file. */
  read: number;
  /** Records quarantined before any delivery (parse errors, validate rules). */
  quarantined_by_validation: number;
  filtered: number;
  /** Records sent to the API (each counted once however often it was retried). */
  sent: number;
  succeeded: number;
  /** Records that succeeded through another endpoint, by route name (seed 001: 8006 → UPD_CUST). */
  updated_via: Record<string, number>;
  /** Records the API refused, by response code; they are quarantined with the code and message. */
  failed_by_code: Record<string, number>;
  written: number;
  calls: number;
  retries: number;
  moved_to: string | null;
  error: string | null;
}

export interface RunReport {
  run_id: string;
  job: string;
  status: string;
  files: FileReport[];
  totals: Omit<FileReport, 'uri' | 'status' | 'moved_to' | 'error'>;
  /** read = succeeded + updated + failed by the API + quarantined by validation + filtered, for every file. */
  identity_holds: boolean;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

function addInto(target: Record<string, number>, source: Record<string, number>): Record<string, number> {
  for (const [key, n] of Object.entries(source)) target[key] = (target[key] ?? 0) + n;
  return target;
}

function fileReport(unit: UnitRecord): FileReport {
  const delivery = unit.delivery;
  const failedByApi = sum(Object.values(delivery?.failedByCode ?? {}));
  return {
    uri: unit.uri,
    status: unit.status,
    read: unit.received,
    quarantined_by_validation: unit.quarantined - failedByApi,
    filtered: unit.filtered,
    sent: delivery?.sent ?? 0,
    succeeded: delivery ? delivery.succeeded : unit.written,
    updated_via: delivery?.routed ?? {},
    failed_by_code: delivery?.failedByCode ?? {},
    written: unit.written,
    calls: delivery?.calls ?? 0,
    retries: delivery?.retries ?? 0,
    moved_to: unit.movedTo,
    error: unit.error,
  };
}

function balanced(file: FileReport): boolean {
  const accounted =
    file.succeeded +
    sum(Object.values(file.updated_via)) +
    sum(Object.values(file.failed_by_code)) +
    file.quarantined_by_validation +
    file.filtered;
  return accounted === file.read && file.written === file.succeeded + sum(Object.values(file.updated_via));
}

/** The reconciliation report of a run: per file and in total, with the accounting identity checked. */
export function buildReport(run: RunRecord, units: readonly UnitRecord[]): RunReport {
  const files = units.filter((unit) => unit.status !== 'skipped' || unit.error).map(fileReport);
  const totals = {
    read: sum(files.map((f) => f.read)),
    quarantined_by_validation: sum(files.map((f) => f.quarantined_by_validation)),
    filtered: sum(files.map((f) => f.filtered)),
    sent: sum(files.map((f) => f.sent)),
    succeeded: sum(files.map((f) => f.succeeded)),
    updated_via: files.reduce((acc, f) => addInto(acc, f.updated_via), {} as Record<string, number>),
    failed_by_code: files.reduce((acc, f) => addInto(acc, f.failed_by_code), {} as Record<string, number>),
    written: sum(files.map((f) => f.written)),
    calls: sum(files.map((f) => f.calls)),
    retries: sum(files.map((f) => f.retries)),
  };
  return {
    run_id: run.runId,
    job: run.job,
    status: run.status,
    files,
    totals,
    identity_holds: files.every((f) => f.status !== 'committed' || balanced(f)),
  };
}

const CSV_COLUMNS = [
  'file',
  'status',
  'read',
  'quarantined_by_validation',
  'filtered',
  'sent',
  'succeeded',
  'updated',
  'failed_by_api',
  'failed_by_code',
  'written',
  'calls',
  'retries',
  'moved_to',
  'error',
] as const;

function csvField(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const codes = (byCode: Record<string, number>) =>
  Object.entries(byCode)
    .map(([code, n]) => `${code}=${n}`)
    .join(';');

/** The report as CSV: one row per file, then a TOTAL row; codes as "3217=2;624=1". */
export function reportCsv(report: RunReport): string {
  const row = (
    file: string,
    status: string,
    f: RunReport['totals'],
    movedTo: string | null,
    error: string | null,
  ) =>
    [
      file,
      status,
      f.read,
      f.quarantined_by_validation,
      f.filtered,
      f.sent,
      f.succeeded,
      sum(Object.values(f.updated_via)),
      sum(Object.values(f.failed_by_code)),
      codes(f.failed_by_code),
      f.written,
      f.calls,
      f.retries,
      movedTo,
      error,
    ]
      .map(csvField)
      .join(',');
  return `${[
    CSV_COLUMNS.join(','),
    ...report.files.map((f) => row(f.uri, f.status, f, f.moved_to, f.error)),
    row('TOTAL', report.status, report.totals, null, null),
  ].join('\n')}\n`;
}

/** Per endpoint, how the API answered a unit's calls: statuses and latency. */
export interface ApiResponseSummary {
  endpoint: string;
  calls: number;
  records: number;
  by_status: Record<string, number>;
  latency_ms: { mean: number; p95: number; max: number };
}

/** Summarises calls (one unit's, or a run's) per endpoint; status 0 means no answer. */
export function apiResponseSummary(calls: readonly HttpCallRecord[]): ApiResponseSummary[] {
  const byEndpoint = new Map<string, HttpCallRecord[]>();
  for (const call of calls) byEndpoint.set(call.endpoint, [...(byEndpoint.get(call.endpoint) ?? []), call]);
  return [...byEndpoint].map(([endpoint, list]) => {
    const latencies = list.map((c) => c.latencyMs).sort((a, b) => a - b);
    const by_status: Record<string, number> = {};
    for (const c of list) by_status[String(c.status)] = (by_status[String(c.status)] ?? 0) + 1;
    return {
      endpoint,
      calls: list.length,
      records: sum(list.map((c) => c.records)),
      by_status,
      latency_ms: {
        mean: Math.round(sum(latencies) / latencies.length),
        p95: Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.95))]),
        max: Math.round(latencies[latencies.length - 1]),
      },
    };
  });
}
