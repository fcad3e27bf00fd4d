import { resolve } from 'node:path';

/** Settings read from the environment; documented in the README's configuration table. */
export interface InletConfig {
  dataDir: string;
  logLevel: string;
  memoryLimit: string;
  threads: number | undefined;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): InletConfig {
  return {
    dataDir: resolve(env.INLET_DATA_DIR ?? '.inlet'),
    logLevel: env.INLET_LOG_LEVEL ?? (process.stderr.isTTY ? 'warn' : 'info'),
    memoryLimit: env.INLET_MEMORY_LIMIT ?? '512MB',
    threads: env.INLET_THREADS ? Number(env.INLET_THREADS) : undefined,
  };
}
