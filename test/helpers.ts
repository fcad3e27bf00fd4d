import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { type LauncherOptions, RunLauncher } from '../src/api/run-launcher.ts';
import { SecretBox } from '../src/engine/secret-box.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { InletMetrics } from '../src/observability/metrics.ts';
import type { MetadataStore } from '../src/store/store.ts';

export const ROOT = resolve(import.meta.dirname, '..');
const INLET = join(ROOT, 'bin', 'inlet');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A fresh temporary directory for one test. */
export function tempDir(prefix = 'inlet-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs the real `inlet` command as a user would, in `cwd`, with INLET_DATA_DIR set. */
export function inlet(
  args: string[],
  options: { cwd?: string; dataDir: string; env?: Record<string, string> },
): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(INLET, args, {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, INLET_DATA_DIR: options.dataDir, INLET_LOG_LEVEL: 'warn', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

export interface RunJson {
  run_id: string;
  job: string;
  status: string;
  counts: { received: number; written: number; quarantined: number; filtered: number };
  units: {
    uri: string;
    status: string;
    received: number;
    written: number;
    quarantined: number;
    filtered: number;
    error?: string;
  }[];
  duration_ms: number;
}

/** `inlet run <job> --json`, parsed; fails the test with stderr when stdout is not one JSON object. */
export async function runJob(
  jobFile: string,
  dataDir: string,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<RunJson & { code: number | null }> {
  const result = await inlet(['run', jobFile, '--json', ...extra], { dataDir, env });
  let parsed: RunJson;
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    throw new Error(`inlet run printed no JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
  return { ...parsed, code: result.code };
}

/** Asserts received = written + quarantined + filtered for a run and each of its units. */
export function assertIdentity(run: RunJson): void {
  for (const c of [run.counts, ...run.units]) {
    if (c.received !== c.written + c.quarantined + c.filtered) {
      throw new Error(`accounting identity broken: ${JSON.stringify(c)}`);
    }
  }
}

/** Runs SQL with an unrestricted DuckDB, as a user reading inlet's outputs would. */
export async function query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJson() as T[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** A free TCP port on loopback, for a server a test starts. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
    server.on('error', fail);
  });
}

/** A RunLauncher for in-process tests: quiet, small memory, its own secret key. */
export function testLauncher(
  store: MetadataStore,
  dir: string,
  extra: Partial<LauncherOptions> = {},
): RunLauncher {
  return new RunLauncher({
    store,
    dataDir: dir,
    workspace: dir,
    memoryLimit: '128MB',
    logger: silentLogger(),
    logLevel: 'silent',
    metrics: new InletMetrics(),
    secrets: new SecretBox(randomBytes(32)),
    ...extra,
  });
}

/** An `inlet serve` process a test started. */
export interface Service {
  port: number;
  /** http://127.0.0.1:<port> */
  base: string;
  /** What it printed on stdout so far (the bootstrap key, the address). */
  stdout(): string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

/** Starts `inlet serve` on loopback and waits until it says it is listening. */
export async function startService(
  dataDir: string,
  options: { args?: string[]; env?: Record<string, string>; port?: number } = {},
): Promise<Service> {
  const port = options.port ?? (await freePort());
  const child = spawn(INLET, ['serve', ...(options.args ?? [])], {
    env: {
      ...process.env,
      INLET_DATA_DIR: dataDir,
      INLET_PORT: String(port),
      INLET_LOG_LEVEL: 'error',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  const exited = new Promise<number | null>((done) => child.on('close', done));
  for (let i = 0; i < 150 && !stdout.includes('listening'); i++) await sleep(100);
  if (!stdout.includes('listening')) throw new Error(`inlet serve did not start:\n${stdout}`);
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    stdout: () => stdout,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
