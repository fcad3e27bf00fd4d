import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One child process run: its wall time, peak resident memory and output. */
export interface Measured {
  wallSeconds: number;
  peakRssBytes: number;
  /** User + system CPU seconds (GNU time only): less disturbed than wall time by other load. */
  cpuSeconds?: number;
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export interface MeasureOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const GNU_TIME = '/usr/bin/time';

/** GNU time is usable when it accepts -f (BusyBox and BSD builds differ). */
function hasGnuTime(): boolean {
  return spawnSync(GNU_TIME, ['-f', '%M', 'true'], { stdio: 'ignore' }).status === 0;
}

/** How peak RSS is measured on this machine, for the report. */
export const rssMethod: 'gnu-time' | 'proc-poll' = hasGnuTime() ? 'gnu-time' : 'proc-poll';

/**
 * Runs `command args` and measures it. Wall time is taken here, around spawn → exit.
 *
 * Peak RSS: with GNU time, `%M` is ru_maxrss from wait4(), which the kernel keeps as the
 * high-water mark of the process and of every descendant it waited for. That is exact
 * (it cannot miss a short spike) and it follows the launchers here: bin/inlet and
 * bin/node-24 are sh scripts that exec node, so the pid stays the same. Without GNU time,
 * the child's /proc/<pid>/status VmHWM (also a kernel high-water mark, so sampling misses
 * no spike) is read every 20 ms; only growth in the last interval before exit can be lost.
 */
export async function measure(
  command: string,
  args: readonly string[],
  options: MeasureOptions = {},
): Promise<Measured> {
  if (rssMethod === 'gnu-time') {
    const dir = await mkdtemp(join(tmpdir(), 'inlet-bench-'));
    const timeFile = join(dir, 'time');
    try {
      // -o keeps time's line out of the child's stderr.
      const run = await runChild(GNU_TIME, ['-f', '%M %U %S', '-o', timeFile, command, ...args], options);
      // The last line: time prepends "Command exited with non-zero status N" on failure.
      const [kib, user, system] = (await readFile(timeFile, 'utf8'))
        .trim()
        .split('\n')
        .at(-1)!
        .split(' ')
        .map(Number);
      return { ...run, peakRssBytes: kib * 1024, cpuSeconds: user + system };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  let peakKib = 0;
  const run = await runChild(command, args, options, (pid) => {
    peakKib = Math.max(peakKib, readVmHwm(pid));
  });
  return { ...run, peakRssBytes: peakKib * 1024 };
}

function readVmHwm(pid: number): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    // The process is gone (or a zombie without memory): keep the last sample.
    return 0;
  }
}

function runChild(
  command: string,
  args: readonly string[],
  options: MeasureOptions,
  sample?: (pid: number) => void,
): Promise<Omit<Measured, 'peakRssBytes'>> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = sample && child.pid ? setInterval(() => sample(child.pid!), 20) : undefined;
    child.once('error', (error) => {
      clearInterval(timer);
      reject(error);
    });
    child.once('close', (exitCode) => {
      clearInterval(timer);
      resolve({
        wallSeconds: (performance.now() - started) / 1000,
        exitCode,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
  });
}
