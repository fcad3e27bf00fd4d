import { mkdir } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { SqlSession } from '../core/connector.ts';
import { InletError } from '../core/errors.ts';
import { listLiteral, literal } from './sql.ts';

export interface DuckDbSessionOptions {
  /** DuckDB's buffer-manager cap, e.g. '512MB'; past it DuckDB spills to tempDirectory. */
  memoryLimit: string;
  threads?: number;
  /** Where DuckDB spills; must be inside one of allowedDirectories. */
  tempDirectory: string;
  /** The only directories this session may read or write. */
  allowedDirectories: readonly string[];
}

/**
 * One DuckDB instance for one run, locked to the run's own directories: job specs
 * may come from untrusted callers, so SQL they write must not reach other files.
 * The order of the settings matters: once external access is off and the
 * configuration locked, nothing can widen them again.
 */
export class DuckDbSession implements SqlSession {
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;

  private constructor(instance: DuckDBInstance, connection: DuckDBConnection) {
    this.#instance = instance;
    this.#connection = connection;
  }

  static async open(options: DuckDbSessionOptions): Promise<DuckDbSession> {
    await mkdir(options.tempDirectory, { recursive: true });
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    const session = new DuckDbSession(instance, connection);
    const allowed = options.allowedDirectories.map((dir) => withTrailingSep(resolve(dir)));
    await session.run(`SET memory_limit = ${literal(options.memoryLimit)}`);
    if (options.threads) await session.run(`SET threads = ${Math.max(1, Math.floor(options.threads))}`);
    await session.run(`SET temp_directory = ${literal(options.tempDirectory)}`);
    await session.run('SET preserve_insertion_order = true');
    await session.run('SET autoinstall_known_extensions = false');
    await session.run('SET autoload_known_extensions = false');
    await session.run(`SET allowed_directories = ${listLiteral(allowed)}`);
    await session.run('SET enable_external_access = false');
    await session.run('SET lock_configuration = true');
    return session;
  }

  async run(sql: string): Promise<void> {
    await this.#connection.run(sql);
  }

  async all<T extends Record<string, unknown>>(sql: string): Promise<T[]> {
    const reader = await this.#connection.runAndReadAll(sql);
    return reader.getRowObjectsJson() as T[];
  }

  /** Streams a query's rows as JSON-compatible objects, a DuckDB chunk at a time. */
  async *stream(sql: string): AsyncGenerator<Record<string, unknown>[]> {
    const result = await this.#connection.stream(sql);
    for await (const rows of result.yieldRowObjectJson()) yield rows as Record<string, unknown>[];
  }

  interrupt(): void {
    this.#connection.interrupt();
  }

  close(): void {
    this.#connection.closeSync();
    this.#instance.closeSync();
  }
}

function withTrailingSep(dir: string): string {
  return dir.endsWith(sep) ? dir : dir + sep;
}

/** Turns a DuckDB error into an InletError with DuckDB's first line, prefixed by where it happened if given. */
export function duckDbError(
  error: unknown,
  code: 'INLET_E_PARSE' | 'INLET_E_SINK',
  where?: string,
): InletError {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
  return new InletError(code, where ? `${where}: ${message}` : message, { cause: error });
}
