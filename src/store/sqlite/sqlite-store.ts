import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import type { HttpCallRecord } from '../../core/connector.ts';
import type {
  AlertRecord,
  ApiKeyRecord,
  AuditChainCheck,
  AuditEvent,
  AuditRecord,
  ConnectionKind,
  Counts,
  JobVersion,
  LockHolder,
  MetadataStore,
  QuarantineEntry,
  Role,
  RunRecord,
  RunStatus,
  ScheduleTick,
  StoredConnection,
  UnitRecord,
} from '../store.ts';
import { migrate } from './migrate.ts';

type Row = Record<string, SQLInputValue>;

const now = () => new Date().toISOString();

/** The embedded metadata store: one SQLite file in WAL mode, safe for several processes on one machine. */
export class SqliteStore implements MetadataStore {
  readonly #db: DatabaseSync;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.#db = new DatabaseSync(path, { timeout: 10_000 });
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');
    migrate(this.#db);
  }

  async close(): Promise<void> {
    this.#db.close();
  }

  #transaction<T>(work: () => T): T {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      this.#db.exec('COMMIT');
      return result;
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  async createRun(run: Pick<RunRecord, 'runId' | 'job' | 'pid' | 'host' | 'spec'>): Promise<void> {
    this.#db
      .prepare(
        'INSERT INTO runs (run_id, job, status, pid, host, started_at, spec_json) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(run.runId, run.job, 'running', run.pid, run.host, now(), JSON.stringify(run.spec));
  }

  async finishRun(
    runId: string,
    outcome: Counts & { status: RunStatus; error: string | null; stageSeconds: Record<string, number> },
  ): Promise<void> {
    this.#db
      .prepare(
        `UPDATE runs SET status = ?, finished_at = ?, received = ?, written = ?, quarantined = ?, filtered = ?,
         error = ?, stage_seconds_json = ? WHERE run_id = ?`,
      )
      .run(
        outcome.status,
        now(),
        outcome.received,
        outcome.written,
        outcome.quarantined,
        outcome.filtered,
        outcome.error,
        JSON.stringify(outcome.stageSeconds),
        runId,
      );
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const row = this.#db.prepare('SELECT * FROM runs WHERE run_id = ?').get(runId) as Row | undefined;
    return row && toRun(row);
  }

  async listRuns(filter: {
    job?: string;
    status?: RunStatus;
    since?: string;
    limit?: number;
    offset?: number;
  }): Promise<RunRecord[]> {
    const rows = this.#db
      .prepare(
        `SELECT * FROM runs WHERE (?1 IS NULL OR job = ?1) AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR started_at >= ?3)
         ORDER BY started_at DESC, run_id DESC LIMIT ?4 OFFSET ?5`,
      )
      .all(
        filter.job ?? null,
        filter.status ?? null,
        filter.since ?? null,
        filter.limit ?? 50,
        filter.offset ?? 0,
      ) as Row[];
    return rows.map(toRun);
  }

  async lastSuccesses(): Promise<{ job: string; finishedAt: string }[]> {
    const rows = this.#db
      .prepare("SELECT job, max(finished_at) AS at FROM runs WHERE status = 'succeeded' GROUP BY job")
      .all() as Row[];
    return rows.map((row) => ({ job: String(row.job), finishedAt: String(row.at) }));
  }

  async runningRuns(job: string): Promise<RunRecord[]> {
    const rows = this.#db
      .prepare("SELECT * FROM runs WHERE job = ? AND status = 'running'")
      .all(job) as Row[];
    return rows.map(toRun);
  }

  async acquireJobLock(
    job: string,
    holder: LockHolder,
    isAlive: (holder: LockHolder) => boolean,
  ): Promise<LockHolder | null> {
    return this.#transaction(() => {
      const row = this.#db.prepare('SELECT run_id, pid, host FROM job_locks WHERE job = ?').get(job) as
        | Row
        | undefined;
      if (row) {
        const current = { runId: String(row.run_id), pid: Number(row.pid), host: String(row.host) };
        if (isAlive(current)) return current;
      }
      this.#db
        .prepare(
          'INSERT OR REPLACE INTO job_locks (job, run_id, pid, host, acquired_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(job, holder.runId, holder.pid, holder.host, now());
      return null;
    });
  }

  async releaseJobLock(job: string, runId: string): Promise<void> {
    this.#db.prepare('DELETE FROM job_locks WHERE job = ? AND run_id = ?').run(job, runId);
  }

  async addUnit(
    unit: Omit<
      UnitRecord,
      keyof Counts | 'error' | 'errorCode' | 'manifest' | 'finishedAt' | 'movedTo' | 'delivery'
    >,
  ): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO units (unit_id, run_id, job, seq, uri, content_hash, size, mtime_ms, status, started_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        unit.unitId,
        unit.runId,
        unit.job,
        unit.seq,
        unit.uri,
        unit.contentHash,
        unit.size,
        unit.mtimeMs,
        unit.status,
        unit.startedAt,
      );
  }

  async updateUnit(
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
  ): Promise<void> {
    const columns: Record<string, SQLInputValue> = {};
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined) continue;
      if (key === 'manifest') columns.manifest_json = JSON.stringify(value);
      else if (key === 'delivery') columns.delivery_json = JSON.stringify(value);
      else columns[snake(key)] = value as SQLInputValue;
    }
    const names = Object.keys(columns);
    if (!names.length) return;
    this.#db
      .prepare(`UPDATE units SET ${names.map((name) => `${name} = ?`).join(', ')} WHERE unit_id = ?`)
      .run(...names.map((name) => columns[name]), unitId);
  }

  async getUnit(unitId: string): Promise<UnitRecord | undefined> {
    const row = this.#db.prepare('SELECT * FROM units WHERE unit_id = ?').get(unitId) as Row | undefined;
    return row && toUnit(row);
  }

  async listUnits(runId: string): Promise<UnitRecord[]> {
    return (this.#db.prepare('SELECT * FROM units WHERE run_id = ? ORDER BY seq').all(runId) as Row[]).map(
      toUnit,
    );
  }

  async lastCommittedUnit(job: string, uri: string): Promise<UnitRecord | undefined> {
    const row = this.#db
      .prepare(
        "SELECT * FROM units WHERE job = ? AND uri = ? AND status = 'committed' ORDER BY finished_at DESC LIMIT 1",
      )
      .get(job, uri) as Row | undefined;
    return row && toUnit(row);
  }

  async committedUnitWithContent(job: string, contentHash: string): Promise<UnitRecord | undefined> {
    const row = this.#db
      .prepare(
        "SELECT * FROM units WHERE job = ? AND content_hash = ? AND status = 'committed' ORDER BY finished_at LIMIT 1",
      )
      .get(job, contentHash) as Row | undefined;
    return row && toUnit(row);
  }

  async unfinishedUnits(job: string): Promise<UnitRecord[]> {
    const rows = this.#db
      .prepare(
        "SELECT * FROM units WHERE job = ? AND status IN ('extracted', 'normalized', 'loaded', 'committing') ORDER BY run_id, seq",
      )
      .all(job) as Row[];
    return rows.map(toUnit);
  }

  async addQuarantineEntries(entries: QuarantineEntry[]): Promise<void> {
    const insert = this.#db.prepare(
      'INSERT OR REPLACE INTO quarantine_index (run_id, unit_id, uri, rule, count, path) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#transaction(() => {
      for (const e of entries) insert.run(e.runId, e.unitId, e.uri, e.rule, e.count, e.path);
    });
  }

  async listQuarantineEntries(runId: string): Promise<QuarantineEntry[]> {
    const rows = this.#db
      .prepare('SELECT * FROM quarantine_index WHERE run_id = ? ORDER BY uri, rule')
      .all(runId) as Row[];
    return rows.map((row) => ({
      runId: String(row.run_id),
      unitId: String(row.unit_id),
      uri: String(row.uri),
      rule: String(row.rule),
      count: Number(row.count),
      path: String(row.path),
    }));
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    this.#transaction(() => {
      const last = this.#db.prepare('SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1').get() as
        | Row
        | undefined;
      const prevHash = last?.hash === undefined || last.hash === null ? '' : String(last.hash);
      const content = {
        at: now(),
        actor: event.actor,
        action: event.action,
        target: event.target,
        outcome: event.outcome,
        details_json: JSON.stringify(event.details ?? {}),
      };
      this.#db
        .prepare(
          'INSERT INTO audit_events (at, actor, action, target, outcome, details_json, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          content.at,
          content.actor,
          content.action,
          content.target,
          content.outcome,
          content.details_json,
          prevHash,
          auditHash(prevHash, content),
        );
    });
  }

  async listAudit(filter: {
    actor?: string;
    action?: string;
    since?: string;
    limit?: number;
    offset?: number;
  }): Promise<AuditRecord[]> {
    const rows = this.#db
      .prepare(
        `SELECT * FROM audit_events WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL OR at >= ?3)
         ORDER BY id DESC LIMIT ?4 OFFSET ?5`,
      )
      .all(
        filter.actor ?? null,
        filter.action ?? null,
        filter.since ?? null,
        filter.limit ?? 100,
        filter.offset ?? 0,
      ) as Row[];
    return rows.map((row) => ({
      id: Number(row.id),
      at: String(row.at),
      actor: String(row.actor),
      action: String(row.action),
      target: String(row.target),
      outcome: String(row.outcome),
      details: JSON.parse(String(row.details_json)),
      hash: String(row.hash),
    }));
  }

  async verifyAuditChain(): Promise<AuditChainCheck> {
    let prevHash = '';
    let events = 0;
    for (const row of this.#db.prepare('SELECT * FROM audit_events ORDER BY id').iterate() as Iterable<Row>) {
      events++;
      const content = {
        at: String(row.at),
        actor: String(row.actor),
        action: String(row.action),
        target: String(row.target),
        outcome: String(row.outcome),
        details_json: String(row.details_json),
      };
      if (row.prev_hash !== prevHash || row.hash !== auditHash(prevHash, content))
        return { verified: false, events, brokenAt: Number(row.id) };
      prevHash = String(row.hash);
    }
    return { verified: true, events };
  }

  async saveJobVersion(
    jobId: string,
    sourceText: string,
    createdBy: string,
    baseDir: string | null = null,
  ): Promise<number> {
    return this.#transaction(() => {
      const at = now();
      const row = this.#db
        .prepare('SELECT current_version, deleted_at FROM jobs WHERE job_id = ?')
        .get(jobId) as Row | undefined;
      const last = row
        ? Number(
            (
              this.#db
                .prepare('SELECT max(version) AS v FROM job_versions WHERE job_id = ?')
                .get(jobId) as Row
            ).v,
          )
        : 0;
      const version = last + 1;
      if (row) {
        this.#db
          .prepare('UPDATE jobs SET current_version = ?, updated_at = ?, deleted_at = NULL WHERE job_id = ?')
          .run(version, at, jobId);
      } else {
        this.#db
          .prepare('INSERT INTO jobs (job_id, current_version, created_at, updated_at) VALUES (?, ?, ?, ?)')
          .run(jobId, version, at, at);
      }
      this.#db
        .prepare(
          'INSERT INTO job_versions (job_id, version, source_text, base_dir, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(jobId, version, sourceText, baseDir, at, createdBy);
      return version;
    });
  }

  async getJob(jobId: string): Promise<JobVersion | undefined> {
    const row = this.#db
      .prepare(
        `SELECT v.* FROM jobs j JOIN job_versions v ON v.job_id = j.job_id AND v.version = j.current_version
         WHERE j.job_id = ? AND j.deleted_at IS NULL`,
      )
      .get(jobId) as Row | undefined;
    return row && toJobVersion(row);
  }

  async listJobs(): Promise<JobVersion[]> {
    const rows = this.#db
      .prepare(
        `SELECT v.* FROM jobs j JOIN job_versions v ON v.job_id = j.job_id AND v.version = j.current_version
         WHERE j.deleted_at IS NULL ORDER BY j.job_id`,
      )
      .all() as Row[];
    return rows.map(toJobVersion);
  }

  async listJobVersions(jobId: string): Promise<JobVersion[]> {
    const rows = this.#db
      .prepare('SELECT * FROM job_versions WHERE job_id = ? ORDER BY version')
      .all(jobId) as Row[];
    return rows.map(toJobVersion);
  }

  async deleteJob(jobId: string): Promise<boolean> {
    const result = this.#db
      .prepare('UPDATE jobs SET deleted_at = ? WHERE job_id = ? AND deleted_at IS NULL')
      .run(now(), jobId);
    return Number(result.changes) > 0;
  }

  async createApiKey(key: ApiKeyRecord & { keyHash: string }): Promise<void> {
    this.#db
      .prepare('INSERT INTO api_keys (key_id, name, role, key_hash, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(key.keyId, key.name, key.role, key.keyHash, key.createdAt);
  }

  async findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const row = this.#db
      .prepare('SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL')
      .get(keyHash) as Row | undefined;
    return (
      row && {
        keyId: String(row.key_id),
        name: String(row.name),
        role: row.role as Role,
        createdAt: String(row.created_at),
      }
    );
  }

  async countApiKeys(): Promise<number> {
    return Number(
      (this.#db.prepare('SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL').get() as Row).n,
    );
  }

  async findRunRequest(jobId: string, idempotencyKey: string): Promise<string | undefined> {
    const row = this.#db
      .prepare('SELECT run_id FROM run_requests WHERE job_id = ? AND idempotency_key = ?')
      .get(jobId, idempotencyKey) as Row | undefined;
    return row === undefined ? undefined : String(row.run_id);
  }

  async rememberRunRequest(jobId: string, idempotencyKey: string, runId: string): Promise<void> {
    this.#db
      .prepare(
        'INSERT OR IGNORE INTO run_requests (job_id, idempotency_key, run_id, created_at) VALUES (?, ?, ?, ?)',
      )
      .run(jobId, idempotencyKey, runId, now());
  }

  async claimTick(jobId: string, tickAt: string, claimedBy: string): Promise<boolean> {
    const result = this.#db
      .prepare(
        "INSERT INTO schedule_ticks (job_id, tick_at, outcome, claimed_by, claimed_at) VALUES (?, ?, 'claimed', ?, ?) ON CONFLICT DO NOTHING",
      )
      .run(jobId, tickAt, claimedBy, now());
    return Number(result.changes) === 1;
  }

  async settleTick(jobId: string, tickAt: string, outcome: string, runId: string | null): Promise<void> {
    this.#db
      .prepare('UPDATE schedule_ticks SET outcome = ?, run_id = ? WHERE job_id = ? AND tick_at = ?')
      .run(outcome, runId, jobId, tickAt);
  }

  async lastTick(jobId: string): Promise<string | undefined> {
    const row = this.#db
      .prepare('SELECT max(tick_at) AS at FROM schedule_ticks WHERE job_id = ?')
      .get(jobId) as Row;
    return row.at === null ? undefined : String(row.at);
  }

  async listTicks(jobId: string): Promise<ScheduleTick[]> {
    const rows = this.#db
      .prepare('SELECT * FROM schedule_ticks WHERE job_id = ? ORDER BY tick_at')
      .all(jobId) as Row[];
    return rows.map((row) => ({
      jobId: String(row.job_id),
      tickAt: String(row.tick_at),
      outcome: String(row.outcome),
      runId: textOrNull(row.run_id),
      claimedBy: String(row.claimed_by),
    }));
  }

  async saveConnection(connection: Omit<StoredConnection, 'updatedAt'>): Promise<boolean> {
    return this.#transaction(() => {
      const at = now();
      const existed = this.#db
        .prepare('SELECT 1 FROM connections WHERE kind = ? AND name = ?')
        .get(connection.kind, connection.name);
      this.#db
        .prepare(
          `INSERT INTO connections (kind, name, type, sealed_config, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (kind, name) DO UPDATE SET type = excluded.type, sealed_config = excluded.sealed_config, updated_at = excluded.updated_at`,
        )
        .run(connection.kind, connection.name, connection.type, connection.sealedConfig, at, at);
      return !existed;
    });
  }

  async getConnection(kind: ConnectionKind, name: string): Promise<StoredConnection | undefined> {
    const row = this.#db.prepare('SELECT * FROM connections WHERE kind = ? AND name = ?').get(kind, name) as
      | Row
      | undefined;
    return row && toConnection(row);
  }

  async listConnections(kind?: ConnectionKind): Promise<StoredConnection[]> {
    const rows = this.#db
      .prepare('SELECT * FROM connections WHERE (?1 IS NULL OR kind = ?1) ORDER BY kind, name')
      .all(kind ?? null) as Row[];
    return rows.map(toConnection);
  }

  async deleteConnection(kind: ConnectionKind, name: string): Promise<boolean> {
    return (
      Number(
        this.#db.prepare('DELETE FROM connections WHERE kind = ? AND name = ?').run(kind, name).changes,
      ) > 0
    );
  }

  async recordAlert(alert: Omit<AlertRecord, 'createdAt'>): Promise<void> {
    this.#db
      .prepare(
        'INSERT INTO alerts (job, run_id, kind, channel, message, status, attempts, error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        alert.job,
        alert.runId,
        alert.kind,
        alert.channel,
        alert.message,
        alert.status,
        alert.attempts,
        alert.error,
        now(),
      );
  }

  async listAlerts(filter: { job?: string; kind?: string; limit?: number }): Promise<AlertRecord[]> {
    const rows = this.#db
      .prepare(
        'SELECT * FROM alerts WHERE (?1 IS NULL OR job = ?1) AND (?2 IS NULL OR kind = ?2) ORDER BY id DESC LIMIT ?3',
      )
      .all(filter.job ?? null, filter.kind ?? null, filter.limit ?? 100) as Row[];
    return rows.map((row) => ({
      job: String(row.job),
      runId: textOrNull(row.run_id),
      kind: String(row.kind),
      channel: String(row.channel),
      message: String(row.message),
      status: row.status as AlertRecord['status'],
      attempts: Number(row.attempts),
      error: textOrNull(row.error),
      createdAt: String(row.created_at),
    }));
  }

  async getState(job: string, key: string): Promise<string | undefined> {
    const row = this.#db.prepare('SELECT value FROM state WHERE job = ? AND key = ?').get(job, key) as
      | Row
      | undefined;
    return row === undefined ? undefined : String(row.value);
  }

  async setState(job: string, key: string, value: string): Promise<void> {
    this.#db
      .prepare(
        'INSERT INTO state (job, key, value, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (job, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
      )
      .run(job, key, value, now());
  }

  async takeRateSlot(
    key: string,
    intervalMs: number,
    burstToleranceMs: number,
    nowMs: number,
  ): Promise<number> {
    return this.#transaction(() => {
      const row = this.#db.prepare('SELECT tat_ms FROM rate_limits WHERE key = ?').get(key) as
        | Row
        | undefined;
      const tat = Math.max(row === undefined ? nowMs : Number(row.tat_ms), nowMs);
      if (tat - nowMs > burstToleranceMs) return tat - nowMs - burstToleranceMs;
      this.#db
        .prepare(
          'INSERT INTO rate_limits (key, tat_ms) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET tat_ms = excluded.tat_ms',
        )
        .run(key, tat + intervalMs);
      return 0;
    });
  }

  async recordHttpCall(call: HttpCallRecord): Promise<void> {
    this.#db
      .prepare(
        `INSERT INTO http_calls (run_id, job, unit_uri, endpoint, batch_key, attempt, status, request_id, latency_ms, records, outcome, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        call.runId,
        call.job,
        call.unitUri,
        call.endpoint,
        call.batchKey,
        call.attempt,
        call.status,
        call.requestId,
        call.latencyMs,
        call.records,
        call.outcome,
        new Date().toISOString(),
      );
  }

  async listHttpCalls(runId: string): Promise<(HttpCallRecord & { at: string })[]> {
    const rows = this.#db
      .prepare('SELECT * FROM http_calls WHERE run_id = ? ORDER BY id')
      .all(runId) as Row[];
    return rows.map((row) => ({
      runId: String(row.run_id),
      job: String(row.job),
      unitUri: String(row.unit_uri),
      endpoint: String(row.endpoint),
      batchKey: String(row.batch_key),
      attempt: Number(row.attempt),
      status: Number(row.status),
      requestId: textOrNull(row.request_id),
      latencyMs: Number(row.latency_ms),
      records: Number(row.records),
      outcome: String(row.outcome),
      at: String(row.at),
    }));
  }

  async deliveredBatch(batchKey: string): Promise<string | undefined> {
    const row = this.#db
      .prepare('SELECT outcomes_json FROM http_batches WHERE batch_key = ?')
      .get(batchKey) as { outcomes_json: string } | undefined;
    return row?.outcomes_json;
  }

  async saveDeliveredBatch(batchKey: string, job: string, outcomes: string): Promise<void> {
    this.#db
      .prepare(
        'INSERT OR REPLACE INTO http_batches (batch_key, job, outcomes_json, delivered_at) VALUES (?, ?, ?, ?)',
      )
      .run(batchKey, job, outcomes, new Date().toISOString());
  }

  async delayRateSlots(key: string, untilMs: number): Promise<void> {
    this.#db
      .prepare(
        'INSERT INTO rate_limits (key, tat_ms) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET tat_ms = max(tat_ms, excluded.tat_ms)',
      )
      .run(key, untilMs);
  }
}

/** The chain link: sha256 of the previous hash and the event's fields in a fixed order. */
function auditHash(prevHash: string, content: Record<string, string>): string {
  const fields = [
    content.at,
    content.actor,
    content.action,
    content.target,
    content.outcome,
    content.details_json,
  ];
  return createHash('sha256')
    .update(JSON.stringify([prevHash, ...fields]))
    .digest('hex');
}

function toConnection(row: Row): StoredConnection {
  return {
    kind: row.kind as ConnectionKind,
    name: String(row.name),
    type: String(row.type),
    sealedConfig: String(row.sealed_config),
    updatedAt: String(row.updated_at),
  };
}

function toJobVersion(row: Row): JobVersion {
  return {
    jobId: String(row.job_id),
    version: Number(row.version),
    sourceText: String(row.source_text),
    baseDir: textOrNull(row.base_dir),
    createdAt: String(row.created_at),
    createdBy: String(row.created_by),
  };
}

/** A nullable text column as string | null. */
function textOrNull(value: SQLInputValue | undefined): string | null {
  return value === null || value === undefined ? null : String(value);
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function counts(row: Row): Counts {
  return {
    received: Number(row.received),
    written: Number(row.written),
    quarantined: Number(row.quarantined),
    filtered: Number(row.filtered),
  };
}

function toRun(row: Row): RunRecord {
  return {
    runId: String(row.run_id),
    job: String(row.job),
    status: row.status as RunStatus,
    pid: Number(row.pid),
    host: String(row.host),
    startedAt: String(row.started_at),
    finishedAt: textOrNull(row.finished_at),
    error: textOrNull(row.error),
    spec: JSON.parse(String(row.spec_json)),
    stageSeconds: JSON.parse(String(row.stage_seconds_json)),
    ...counts(row),
  };
}

function toUnit(row: Row): UnitRecord {
  return {
    unitId: String(row.unit_id),
    runId: String(row.run_id),
    job: String(row.job),
    seq: Number(row.seq),
    uri: String(row.uri),
    contentHash: textOrNull(row.content_hash),
    size: Number(row.size),
    mtimeMs: Number(row.mtime_ms),
    status: row.status as UnitRecord['status'],
    error: textOrNull(row.error),
    errorCode: textOrNull(row.error_code),
    manifest: row.manifest_json === null ? null : JSON.parse(String(row.manifest_json)),
    movedTo: textOrNull(row.moved_to),
    delivery:
      row.delivery_json === null || row.delivery_json === undefined
        ? null
        : JSON.parse(String(row.delivery_json)),
    startedAt: String(row.started_at),
    finishedAt: textOrNull(row.finished_at),
    ...counts(row),
  };
}
