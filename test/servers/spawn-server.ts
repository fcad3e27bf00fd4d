import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, tempDir } from '../helpers.ts';

/** A server process a test started, with its own temporary folder. */
export interface SpawnedServer {
  stop(): Promise<void>;
}

/**
 * Runs an npm binary from node_modules/.bin with the Node running the tests (the one on PATH
 * may be too old), waits until `port` on loopback accepts connections, and stops it by its pid.
 */
export async function spawnServer(
  bin: string,
  args: (dir: string) => string[],
  port: number,
): Promise<SpawnedServer> {
  const dir = tempDir(`inlet-${bin}-`);
  const child = spawn(process.execPath, [join(ROOT, 'node_modules', '.bin', bin), ...args(dir)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  // A test process that ends without calling stop() must not leave the server running.
  const orphanGuard = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', orphanGuard);
  const stop = async () => {
    process.off('exit', orphanGuard);
    await kill(child, exited);
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) break;
    if (await answers(port)) return { stop };
    await sleep(50);
  }
  await stop();
  throw new Error(`${bin} did not start on port ${port}:\n${stderr}`);
}

// SIGKILL, not SIGTERM: Azurite's SIGTERM handler waits for open connections, and tests
// stop servers on purpose while a download is still open.
async function kill(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exited;
}

function answers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}
