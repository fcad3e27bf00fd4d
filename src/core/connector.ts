import type { z } from 'zod';
import type { Logger } from './logger.ts';
import type { ObjectStore } from './object-store.ts';

/** What the engine needs from a SQL engine: statements and small result sets. */
export interface SqlSession {
  run(sql: string): Promise<void>;
  all<T extends Record<string, unknown>>(sql: string): Promise<T[]>;
  /** Streams a query's rows, a chunk at a time, for sinks that send records themselves. */
  stream(sql: string): AsyncGenerator<Record<string, unknown>[]>;
}

/** A format block from a job spec (`format: {type: csv, …}`), parsed by the formats module. */
export interface FormatSpec {
  type: string;
  [option: string]: unknown;
}

/** A unit a source offers: one file, object, page or message batch. */
export interface UnitCandidate {
  /** Stable identity of the unit's origin, e.g. file:///data/in/a.csv. */
  uri: string;
  size: number;
  mtimeMs: number;
  /** Remote metadata or tags, where the store has them (segregation rules can match on them). */
  metadata?: Record<string, string>;
}

/** A unit made readable on local disk, with the identity of its content. */
export interface LandedUnit extends UnitCandidate {
  localPath: string;
  /**
   * sha256 of the unit's bytes as stored at the source. A promise, because a local file
   * is hashed while the data plane reads it rather than in a pass of its own.
   */
  contentHash: Promise<string>;
}

/** Everything a connector's create() may use; passed in, never global. */
export interface ConnectorContext {
  /** Directory relative paths in the job spec are resolved against. */
  baseDir: string;
  logger: Logger;
  /** State shared through the metadata store by every run and process (rate limits, delivered batches). */
  shared?: SharedState;
  /** The job's name, for keys and records that belong to it. */
  jobName?: string;
  /** URLs in the spec may reach private and loopback addresses (INLET_ALLOW_PRIVATE_NETWORKS). */
  allowPrivateNetworks?: boolean;
}

/** One call an HTTP sink made, as recorded for audit and reconciliation. */
export interface HttpCallRecord {
  runId: string;
  job: string;
  unitUri: string;
  endpoint: string;
  batchKey: string;
  attempt: number;
  /** 0 when no answer came (network error, timeout). */
  status: number;
  requestId: string | null;
  latencyMs: number;
  records: number;
  /** e.g. "98 success, 2 route:update". */
  outcome: string;
}

/** What connectors share through the metadata store, so that every run and worker sees the same. */
export interface SharedState {
  /** GCRA slot for a rate-limit key: 0 when granted, else the ms to wait. */
  takeRateSlot(key: string, intervalMs: number, burstToleranceMs: number, nowMs: number): Promise<number>;
  /** Nobody may take a slot for the key before untilMs (a 429's Retry-After). */
  delayRateSlots(key: string, untilMs: number): Promise<void>;
  recordHttpCall(call: HttpCallRecord): Promise<void>;
  /** The final per-record outcomes saved for a batch key, if that batch was delivered before. */
  deliveredBatch(batchKey: string): Promise<string | undefined>;
  saveDeliveredBatch(batchKey: string, job: string, outcomes: string): Promise<void>;
}

/** Where a source's units live, so that after a run they can be archived or moved aside. */
export interface UnitOrigin {
  store: ObjectStore;
  /** The store key of a unit this source listed. */
  keyOf(unit: UnitCandidate): string;
  /** The unit's key relative to the source's folder (kept under the archive folder). */
  relativeKeyOf(unit: UnitCandidate): string;
  /** A folder named in the job (`archive.path`) as a key prefix of the same store. */
  folderKey(path: string): string;
}

export interface Source {
  /** The format units are decoded with. */
  readonly format: FormatSpec;
  /** Set by sources of files and objects: where each unit lives. */
  readonly origin?: UnitOrigin;
  /**
   * True when content already ingested under any name counts as a duplicate (landing zones,
   * where files are re-uploaded); otherwise only the same name with the same content does.
   */
  readonly dedupeByContent?: boolean;
  /** Directories the data plane must be allowed to read for this source. */
  readonly readDirectories: readonly string[];
  /** The units available now, in a stable order. */
  list(signal: AbortSignal): Promise<UnitCandidate[]>;
  /** Makes one unit readable at a local path (in place or copied into spoolDir), hashing its bytes. */
  land(unit: UnitCandidate, spoolDir: string, signal: AbortSignal): Promise<LandedUnit>;
  /** Throws a transient InletError when the unit changed after it was landed (a file still being written). */
  verifyUnchanged(unit: LandedUnit): Promise<void>;
  /** Releases connections once the run is over. */
  close?(): Promise<void>;
}

/** How far a sink's promise goes once commit() returned. */
export type SinkGuarantee = 'atomic' | 'idempotent-upsert' | 'at-least-once';

/** The rows of one unit ready for a sink: a SQL relation in the run's session. */
export interface SinkInput {
  /** A SELECT producing exactly the rows to deliver, in order. */
  relation: string;
  /** How many rows the relation yields (known from normalize): a sink writes nothing for none. */
  rows: number;
  /** Run id and a short unit id, to name outputs uniquely and find them after a crash. */
  runId: string;
  unitKey: string;
  /** The run's spool folder: sinks that upload elsewhere write their files here first. */
  spoolDir: string;
  /** The same rows with their source line first (`__inlet_line`), in source order. */
  linedRelation: string;
  /** The unit's identity, for keys that must be stable across reruns of the same file. */
  unitUri: string;
  contentHash: string;
}

/** A record a sink could not deliver: quarantined with the far side's code and message. */
export interface RejectedRecord {
  line: number | null;
  code: string;
  reason: string;
  record: Record<string, unknown>;
}

/** Per unit, what a sink that calls an API did with its records (for the reconciliation report). */
export interface DeliverySummary {
  sent: number;
  succeeded: number;
  /** Records that succeeded on another endpoint, by route name. */
  routed: Record<string, number>;
  failedByCode: Record<string, number>;
  calls: number;
  retries: number;
  /** Batches found delivered by an earlier, interrupted run and not sent again. */
  replayedBatches: number;
}

/** What a sink staged for one unit: enough to finish (or undo) the commit after a crash. */
export interface StagedOutput {
  sink: number;
  /** Rows the sink wrote, as it counted them. */
  rows: number;
  /** Staged file → final file moves still to do. */
  moves: { from: string; to: string }[];
  /** Records the far side refused; the engine quarantines them (rows + rejected = the unit's written). */
  rejected?: RejectedRecord[];
  delivery?: DeliverySummary;
}

export interface Sink {
  readonly guarantee: SinkGuarantee;
  /** Directories the data plane must be allowed to write for this sink. */
  readonly writeDirectories: readonly string[];
  /** True when every run must rebuild the whole output (mode: overwrite), so no unit may be skipped. */
  readonly rebuildsEachRun: boolean;
  /** Writes the unit's rows to a staging place invisible to readers. */
  stage(session: SqlSession, input: SinkInput, sinkIndex: number, signal: AbortSignal): Promise<StagedOutput>;
  /** Makes staged output visible. Idempotent: safe to call again for the same output after a crash. */
  commit(staged: StagedOutput): Promise<void>;
  /** After every unit of a run committed: e.g. remove earlier output in overwrite mode. */
  finishRun(runId: string): Promise<void>;
  /** Removes whatever a run staged and never committed. */
  discardStaging(runId: string): Promise<void>;
  /** Releases connections once the run is over. */
  close?(): Promise<void>;
}

/** A connector as the registry knows it: its config schema is the single source of its documentation. */
export interface SourceSpec<Schema extends z.ZodType = z.ZodType> {
  kind: 'source';
  type: string;
  summary: string;
  config: Schema;
  create(config: z.output<Schema>, context: ConnectorContext): Source;
}

export interface SinkSpec<Schema extends z.ZodType = z.ZodType> {
  kind: 'sink';
  type: string;
  summary: string;
  config: Schema;
  create(config: z.output<Schema>, context: ConnectorContext): Sink;
}

export type ConnectorSpec = SourceSpec | SinkSpec;

/**
 * A store an archive or failed-files folder can live in (`on_success.archive.store`):
 * the connection keys of a technology, without a folder.
 */
export interface StoreSpec<Schema extends z.ZodType = z.ZodType> {
  type: string;
  config: Schema;
  create(config: z.output<Schema>, context: ConnectorContext): ObjectStore;
  /** A folder named in the job as a key prefix of that store (local paths resolve against the job). */
  folderKey(path: string, context: ConnectorContext): string;
}
