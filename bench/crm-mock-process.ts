/**
 * The mock CRM of seed 001 (examples/crm/mock-crm.ts) as a child process of a benchmark, so
 * the process being measured shares nothing with it but the machine: started on a free
 * loopback port, read through GET /stats, reset between runs, its CPU time read from /proc.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const NODE = join(ROOT, 'bin', 'node-24');
const MOCK = join(ROOT, 'examples', 'crm', 'mock-crm.ts');

export interface MockStats {
  calls: Record<string, number>;
  attempts_total: number;
  over_limit: number;
  unauthorized: number;
  duplicate_deliveries: number;
  records: Record<string, Record<string, number>>;
  customers: number;
  max_calls_in_any_minute: number;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** The mock CRM as a child process: `bin/node-24 examples/crm/mock-crm.ts --port …`. */
export class MockProcess {
  readonly url: string;
  readonly #child: ChildProcess;

  private constructor(url: string, child: ChildProcess) {
    this.url = url;
    this.#child = child;
  }

  static async start(callsPerMinute: number, latencyMs: number): Promise<MockProcess> {
    const port = await freePort();
    const child = spawn(
      NODE,
      [
        MOCK,
        '--port',
        String(port),
        '--calls-per-minute',
        String(callsPerMinute),
        '--latency-ms',
        String(latencyMs),
        // Every call is remembered for replay; enough keys that none is forgotten during a run.
        '--idempotency-key-limit',
        '100000',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout!.setEncoding('utf8');
    await new Promise<void>((ready, broken) => {
      const onData = (text: string) => {
        output += text;
        if (output.includes('listening on')) {
          child.stdout!.off('data', onData);
          // Keep draining, so the child never blocks on a full pipe.
          child.stdout!.resume();
          ready();
        }
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code) =>
        broken(new Error(`mock CRM exited (${code}) before listening: ${output}`)),
      );
      child.once('error', broken);
    });
    child.removeAllListeners('exit');
    return new MockProcess(`http://127.0.0.1:${port}`, child);
  }

  async stats(): Promise<MockStats> {
    return (await (await fetch(`${this.url}/stats`)).json()) as MockStats;
  }

  /** Forgets customers, the rolling window and the counters: each run starts on an empty CRM. */
  async reset(): Promise<void> {
    const response = await fetch(`${this.url}/reset`, { method: 'POST' });
    if (!response.ok) throw new Error(`mock CRM reset: HTTP ${response.status}`);
  }

  /** CPU seconds (user + system) the mock has used so far, from /proc. */
  cpuSeconds(): number {
    const fields = readFileSync(`/proc/${this.#child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // After "pid (comm) ", utime and stime are the 12th and 13th fields.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = once(this.#child, 'exit');
    this.#child.kill('SIGTERM');
    await exited;
  }
}

function freePort(): Promise<number> {
  return new Promise((found, broken) => {
    const server = createServer();
    server.once('error', broken);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => found(port));
    });
  });
}
