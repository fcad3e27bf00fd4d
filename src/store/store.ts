import type { DeliverySummary, HttpCallRecord } from '../core/connector.ts';
/**
 * The metadata store: runs, the unit ledger, job locks, state (cursors), the quarantine
 * index and audit events. SQLite (node:sqlite) implements it for one machine; a
 * PostgreSQL implementation shares this interface for many workers.
 */

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';
/** A unit's place in the staged run; `committing` carries the moves still to finish after a crash. */
export type UnitStatus =
  | 'extracted'
  | 'normalized'
  | 'loaded'
  | 'committing'
  | 'committed'
  | 'skipped'
  | 'failed';

export interface Counts {
  received: number;
  written: number;
  quarantined: number;
  filtered: number;
}

/** Counts of a unit or run that holds no rows (skipped, failed, or only routed). */
export function emptyCounts(): Counts {
  return { received: 0, written: 0, quarantined: 0, filtered: 0 };
}

export interface RunRecord extends Counts {
  runId: string;
  job: string;
  status: RunStatus;
  pid: number;
  host: string;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  /** The job spec the run executed, secrets redacted. */
  spec: unknown;
  stageSeconds: Record<string, number>;
}

export interface UnitRecord extends Counts {
  unitId: string;
  runId: string;
  job: string;
  seq: number;
  uri: string;
  contentHash: string | null;
  size: number;
  mtimeMs: number;
  status: UnitStatus;
  error: string | null;
  errorCode: string | null;
  /** Per sink, the staged → final moves of a commit (kept for crash recovery). */
  manifest: unknown;
  /** Where the original went afterwards: its archive, the failed-files folder, or a routed folder. */
  movedTo: string | null;
  /** For API sinks: what was sent, succeeded, routed and refused by code. */
  delivery: DeliverySummary | null;
  startedAt: string;
  finishedAt: string | null;
}

export interface QuarantineEntry {
  runId: string;
  unitId: string;
  uri: string;
  rule: string;
  count: number;
  /** File holding the rejected records. */
  path: string;
}

export interface AuditEvent {
  actor: string;
  action: string;
  target: string;
  outcome: string;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEvent {
  id: number;
  at: string;
  /** sha256 over the previous event's hash and this event's content. */
  hash: string;
}

/** The audit chain checked end to end: where it first breaks, if it does. */
export interface AuditChainCheck {
  verified: boolean;
  events: number;
  /** The first event whose hash does not match its content and predecessor. */
  brokenAt?: number;
}

export interface LockHolder {
  runId: string;
  pid: number;
  host: string;
}

export type Role = 'admin' | 'operator' | 'viewer';

export interface ApiKeyRecord {
  keyId: string;
  name: string;
  role: Role;
  createdAt: string;
}

export interface JobVersion {
  jobId: string;
  version: number;
  /** The spec as the user sent it (YAML or JSON text), so comments and ${VARS} survive. */
  sourceText: string;
  /** Where relative paths resolve: the folder of the file the job was loaded from, or null for the service's workspace. */
  baseDir: string | null;
  createdAt: string;
  createdBy: string;
}

/** A schedule tick and what became of it: started (with its run), skipped (missed, or the job was still running). */
export interface ScheduleTick {
  jobId: string;
  tickAt: string;
  outcome: string;
  runId: string | null;
  claimedBy: string;
}

/** One alert's delivery to one channel. */
export interface AlertRecord {
  job: string;
  runId: string | null;
  /** failure, zero_records, quarantine_ratio or freshness. */
  kind: string;
  /** e.g. webhook https://hooks…, email ops@… */
  channel: string;
  message: string;
  status: 'delivered' | 'failed';
  attempts: number;
  error: string | null;
  createdAt: string;
}

export type ConnectionKind = 'source' | 'destination';

/** A named connection as stored: its config sealed by the SecretBox. */
export interface StoredConnection {
  kind: ConnectionKind;
  name: string;
  type: string;
  sealedConfig: string;
  updatedAt: string;
}

export interface MetadataStore {
  close(): Promise<void>;

  createRun(run: Pick<RunRecord, 'runId' | 'job' | 'pid' | 'host' | 'spec'>): Promise<void>;
  finishRun(
    runId: string,
    outcome: Counts & { status: RunStatus; error: string | null; stageSeconds: Record<string, number> },
  ): Promise<void>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  /** Newest first; `since` is an ISO time (runs started at or after it). */
  listRuns(filter: {
    job?: string;
    status?: RunStatus;
    since?: string;
    limit?: number;
    offset?: number;
  }): Promise<RunRecord[]>;
  /** For each job, when its last successful run finished. */
  lastSuccesses(): Promise<{ job: string; finishedAt: string }[]>;
  /** Runs of a job still marked running (after a crash, their process is gone). */
  runningRuns(job: string): Promise<RunRecord[]>;

  /** Takes the job's lock unless a live holder has it (isAlive decides); returns the holder that blocks, if any. */
  acquireJobLock(
    job: string,
    holder: LockHolder,
    isAlive: (holder: LockHolder) => boolean,
  ): Promise<LockHolder | null>;
  releaseJobLock(job: string, runId: string): Promise<void>;

  addUnit(
    unit: Omit<
      UnitRecord,
      keyof Counts | 'error' | 'errorCode' | 'manifest' | 'finishedAt' | 'movedTo' | 'delivery'
    >,
  ): Promise<void>;
  updateUnit(
    unitId: string,
    patch: Partial<
      Pick<
        UnitRecord,
        | keyof Counts
        | 'status'
        | 'error'
        | 'errorCode'
        | 'manifest'
        | 'finishedAt'
        | 'contentHash'
        | 'movedTo'
        | 'delivery'
      >
    >,
  ): Promise<void>;
  listUnits(runId: string): Promise<UnitRecord[]>;
  getUnit(unitId: string): Promise<UnitRecord | undefined>;
  /** The latest committed unit of a job with this URI: what "already ingested" is judged against. */
  lastCommittedUnit(job: string, uri: string): Promise<UnitRecord | undefined>;
  /** A committed unit of the job with this content, under any name (a re-uploaded duplicate). */
  committedUnitWithContent(job: string, contentHash: string): Promise<UnitRecord | undefined>;
  /** Units of a job between extract and commit: after a crash, the work to recover. */
  unfinishedUnits(job: string): Promise<UnitRecord[]>;

  addQuarantineEntries(entries: QuarantineEntry[]): Promise<void>;
  listQuarantineEntries(runId: string): Promise<QuarantineEntry[]>;

  appendAudit(event: AuditEvent): Promise<void>;
  /** Newest first. */
  listAudit(filter: {
    actor?: string;
    action?: string;
    since?: string;
    limit?: number;
    offset?: number;
  }): Promise<AuditRecord[]>;
  verifyAuditChain(): Promise<AuditChainCheck>;

  /** Stores a new version of a job (creating the job at version 1); returns the version. */
  saveJobVersion(
    jobId: string,
    sourceText: string,
    createdBy: string,
    baseDir?: string | null,
  ): Promise<number>;
  /** The current version of a live (not deleted) job. */
  getJob(jobId: string): Promise<JobVersion | undefined>;
  listJobs(): Promise<JobVersion[]>;
  listJobVersions(jobId: string): Promise<JobVersion[]>;
  /** Marks a job deleted; its versions and runs stay for the record. Returns false if there was none. */
  deleteJob(jobId: string): Promise<boolean>;

  createApiKey(key: ApiKeyRecord & { keyHash: string }): Promise<void>;
  findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined>;
  countApiKeys(): Promise<number>;

  /** The run an earlier trigger with this idempotency key started, if any. */
  findRunRequest(jobId: string, idempotencyKey: string): Promise<string | undefined>;
  rememberRunRequest(jobId: string, idempotencyKey: string, runId: string): Promise<void>;

  /** Claims a tick for this process; false when another process already did (it fires there). */
  claimTick(jobId: string, tickAt: string, claimedBy: string): Promise<boolean>;
  settleTick(jobId: string, tickAt: string, outcome: string, runId: string | null): Promise<void>;
  /** The latest tick any process claimed for the job. */
  lastTick(jobId: string): Promise<string | undefined>;
  listTicks(jobId: string): Promise<ScheduleTick[]>;

  /** Creates or replaces; returns true when it was created. */
  saveConnection(connection: Omit<StoredConnection, 'updatedAt'>): Promise<boolean>;
  getConnection(kind: ConnectionKind, name: string): Promise<StoredConnection | undefined>;
  listConnections(kind?: ConnectionKind): Promise<StoredConnection[]>;
  deleteConnection(kind: ConnectionKind, name: string): Promise<boolean>;

  recordAlert(alert: Omit<AlertRecord, 'createdAt'>): Promise<void>;
  /** Newest first. */
  listAlerts(filter: { job?: string; kind?: string; limit?: number }): Promise<AlertRecord[]>;

  getState(job: string, key: string): Promise<string | undefined>;
  setState(job: string, key: string, value: string): Promise<void>;

  /**
   * Takes one call slot of a shared rate limit (GCRA), atomically across processes: 0 when
   * granted, otherwise the ms to wait before asking again (nothing is taken then). Every
   * caller of a key must read one clock: across machines, skew between hosts shortens the gaps.
   */
  takeRateSlot(key: string, intervalMs: number, burstToleranceMs: number, nowMs: number): Promise<number>;
  /** Lets no call of the rate limit through before `untilMs` (a server's Retry-After). */
  delayRateSlots(key: string, untilMs: number): Promise<void>;
  /** Records one call an HTTP sink made. */
  recordHttpCall(call: HttpCallRecord): Promise<void>;
  /** The calls a run made (for one unit when given), oldest first. */
  listHttpCalls(runId: string, unitUri?: string): Promise<(HttpCallRecord & { at: string })[]>;
  /** The final per-record outcomes of a batch delivered before (JSON), if any. */
  deliveredBatch(batchKey: string): Promise<string | undefined>;
  saveDeliveredBatch(batchKey: string, job: string, outcomes: string): Promise<void>;
}
