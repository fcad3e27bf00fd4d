import { parseArgs } from 'node:util';
import { buildMockCrmApp, MockCrmState } from './mock-crm/app.ts';
import { DEFAULT_OPTIONS, type MockCrmOptions, validateOptions } from './mock-crm/options.ts';
import type { MockCrmStats } from './mock-crm/stats.ts';

export type { Customer, Endpoint, RecordResult } from './mock-crm/crm-data.ts';
export type { MockCrmOptions } from './mock-crm/options.ts';
export type { MockCrmStats } from './mock-crm/stats.ts';

/** A running mock CRM: the API of the CRM workload (seed 001) with injectable rate limits, latency and faults. */
export interface MockCrm {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string;
  stats(): MockCrmStats;
  /** Changes behaviour while running (everything but `port` and `host`); throws on an invalid patch. */
  control(patch: Partial<MockCrmOptions>): void;
  /** Closes the server, dropping calls still held or waiting; calling it again is harmless. */
  stop(): Promise<void>;
}

/** Starts a mock CRM listening on loopback (a free port unless `port` is given). */
export async function startMockCrm(options: Partial<MockCrmOptions> = {}): Promise<MockCrm> {
  const state = new MockCrmState({ ...DEFAULT_OPTIONS, ...validateOptions(options, false) });
  const stopping = new AbortController();
  const app = buildMockCrmApp(state, stopping.signal);
  await app.listen({ port: state.options.port, host: state.options.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : state.options.port;
  const host = state.options.host.includes(':') ? `[${state.options.host}]` : state.options.host;
  let stopped: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    stats: () => state.stats(),
    control: (patch) => state.control(patch),
    stop: () => {
      stopping.abort();
      stopped ??= app.close();
      return stopped;
    },
  };
}

const FLAGS = {
  port: { type: 'string', default: '8089' },
  host: { type: 'string' },
  'calls-per-minute': { type: 'string' },
  'latency-ms': { type: 'string' },
  'latency-jitter-ms': { type: 'string' },
  'fail-rate': { type: 'string' },
  'timeout-rate': { type: 'string' },
  'lost-response-rate': { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  'max-batch': { type: 'string' },
  'token-ttl-seconds': { type: 'string' },
  'idempotency-key-limit': { type: 'string' },
} as const;

const TEXT_OPTIONS = new Set(['host', 'clientId', 'clientSecret']);

/** Turns `--calls-per-minute 500` into `{ callsPerMinute: 500 }`; validation happens in `startMockCrm`. */
function optionsFromArgs(args: string[]): Partial<MockCrmOptions> {
  const { values } = parseArgs({ args, options: FLAGS, strict: true, allowPositionals: false });
  const options: Record<string, unknown> = {};
  for (const [flag, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const name = flag.replace(/-([a-z])/g, (_match, letter: string) => letter.toUpperCase());
    options[name] = TEXT_OPTIONS.has(name) ? value : Number(value);
  }
  return options as Partial<MockCrmOptions>;
}

async function main(): Promise<void> {
  let crm: MockCrm;
  try {
    crm = await startMockCrm(optionsFromArgs(process.argv.slice(2)));
  } catch (error) {
    console.error(`mock CRM: ${(error as Error).message}`);
    process.exitCode = 2;
    return;
  }
  console.log(`mock CRM listening on ${crm.url}`);
  const shutdown = () => {
    crm.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (import.meta.main) await main();
