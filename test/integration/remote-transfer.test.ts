import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertIdentity, inlet, query, ROOT, type RunJson, tempDir } from '../helpers.ts';
import { type SftpServer, startSftpServer } from '../servers/sshd.ts';

let server: SftpServer;
const cleanups: string[] = [];

before(async () => {
  server = await startSftpServer();
});

after(async () => {
  for (const path of cleanups) await rm(path, { recursive: true, force: true });
  await server?.stop();
});

/** A fresh folder of the test user's; sshd serves the local file system, so tests write into it directly. */
async function serverFolder(name: string): Promise<string> {
  const folder = join(server.home, name);
  await mkdir(folder);
  const { uid, gid } = statSync(server.home);
  await chown(folder, uid, gid);
  cleanups.push(folder);
  return folder;
}

interface GeneratedCsv {
  path: string;
  rows: number;
  bytes: number;
  sha256: string;
}

/**
 * Writes `rows` CSV rows of exactly `rowBytes` bytes: an id and padding. Streamed
 * from one reused block whose ids are patched in place, so 2 GB costs about what the disk
 * needs (5–6 s here; DuckDB's COPY … TO csv took 8 s); hashed on the way. The padding varies with
 * the id, so a resume from the wrong byte would change the file's hash, not just its rows.
 */
async function writeCsv(folder: string, name: string, rows: number, rowBytes: number): Promise<GeneratedCsv> {
  const header = 'id,pad\n';
  const idWidth = 12;
  const padWidth = rowBytes - idWidth - 2;
  const rowsPerBlock = Math.floor((4 * 1024 * 1024) / rowBytes);
  const block = Buffer.alloc(rowsPerBlock * rowBytes, 'p');
  for (let r = 0; r < rowsPerBlock; r++) block[(r + 1) * rowBytes - 1] = 0x0a; // '\n'
  const path = join(folder, name);
  const out = createWriteStream(path);
  const hash = createHash('sha256');
  const write = async (chunk: Buffer) => {
    hash.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  };
  await write(Buffer.from(header));
  for (let first = 0; first < rows; first += rowsPerBlock) {
    const count = Math.min(rowsPerBlock, rows - first);
    for (let r = 0; r < count; r++) {
      const id = first + r;
      const at = r * rowBytes;
      // The id, its comma, then padding up to the fixed width (no leading zeros: DuckDB reads those as text).
      block.fill(0x70, at, at + idWidth + 1);
      block.write(`${id},`, at, 'latin1');
      // One letter of the padding follows the id: distinct rows, same cost.
      block[at + idWidth + 1 + (id % padWidth)] = 0x61 + (id % 26);
    }
    // A copy: the stream may still hold the block when the next iteration patches it.
    await write(Buffer.from(block.subarray(0, count * rowBytes)));
    for (let r = 0; r < count; r++) block[r * rowBytes + idWidth + 1 + ((first + r) % padWidth)] = 0x70;
  }
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
  const { uid, gid } = statSync(server.home);
  await chown(path, uid, gid);
  return { path, rows, bytes: statSync(path).size, sha256: hash.digest('hex') };
}

/** A job that takes every CSV in `folder` over SFTP into Parquet files in `output`; credentials come from the environment. */
async function writeJob(dir: string, name: string, folder: string, output: string): Promise<string> {
  const job = join(dir, 'job.yaml');
  await writeFile(
    job,
    `name: ${name}
source:
  type: sftp
  host: ${server.host}
  port: \${SFTP_PORT}
  username: \${SFTP_USER}
  password: \${SFTP_PASSWORD}
  host_key: ${server.hostKeyFingerprint}
  path: ${folder}
  pattern: "*.csv"
  settle_seconds: 0
  format: { type: csv, header: true }
sink: { type: file, path: ${output}, format: parquet }
`,
  );
  return job;
}

function sftpEnv(dataDir: string): Record<string, string> {
  return {
    INLET_DATA_DIR: dataDir,
    INLET_LOG_LEVEL: 'warn',
    SFTP_PORT: String(server.port),
    SFTP_USER: server.username,
    SFTP_PASSWORD: server.password,
  };
}

/** The size of the file being landed in the spool; undefined while there is none (before, and after the run). */
function landedBytes(dataDir: string): number | undefined {
  const spool = join(dataDir, 'spool');
  if (!existsSync(spool)) return undefined;
  let bytes: number | undefined;
  for (const run of readdirSync(spool)) {
    const landed = join(spool, run, 'landed');
    if (!existsSync(landed)) continue;
    for (const file of readdirSync(landed)) {
      try {
        bytes = Math.max(bytes ?? 0, statSync(join(landed, file)).size);
      } catch {
        // Removed between the listing and the stat: the run is over.
      }
    }
  }
  return bytes;
}

interface WatchedRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The inlet process's VmHWM over the whole run, in bytes. */
  peakRss: number;
  /** Its VmHWM when the landed copy first reached the full size: the transfer's own peak. */
  transferPeakRss: number;
}

/** The kernel's high-water mark of the process's resident memory, in bytes; 0 once it is gone. */
function vmHwm(pid: number): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * `inlet run <job> --json`, sampling the process's VmHWM every 20 ms. bin/inlet execs node,
 * so the pid is the inlet process itself; VmHWM is a high-water mark, so sampling misses no
 * spike, only growth in the last interval before exit (when memory is being freed).
 */
function runWatched(job: string, env: Record<string, string>, fileBytes: number): Promise<WatchedRun> {
  const child = spawn(join(ROOT, 'bin', 'inlet'), ['run', job, '--json'], {
    env: { ...process.env, ...env },
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
  let peakRss = 0;
  let transferPeakRss = 0;
  const timer = setInterval(() => {
    const hwm = vmHwm(child.pid!);
    peakRss = Math.max(peakRss, hwm);
    if (!transferPeakRss && (landedBytes(env.INLET_DATA_DIR) ?? 0) >= fileBytes) transferPeakRss = hwm;
  }, 20);
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      clearInterval(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearInterval(timer);
      resolve({ code, stdout, stderr, peakRss, transferPeakRss });
    });
  });
}

/** Fails unless the Parquet output holds exactly ids 0 … rows−1, once each. */
async function assertAllRows(output: string, rows: number): Promise<void> {
  const [found] = await query<{ n: string; distinct_ids: string; low: string; high: string; total: string }>(
    `SELECT count(*) AS n, count(DISTINCT id) AS distinct_ids, min(id) AS low, max(id) AS high, sum(id) AS total
       FROM read_parquet('${join(output, '**', '*.parquet')}')`,
  );
  assert.deepEqual(
    { ...found },
    {
      n: String(rows),
      distinct_ids: String(rows),
      low: '0',
      high: String(rows - 1),
      total: String((BigInt(rows) * BigInt(rows - 1)) / 2n),
    },
  );
}

describe('remote transfer over SFTP', { concurrency: false }, () => {
  it('resumes a transfer cut off mid-file and lands the same bytes', { timeout: 120_000 }, async () => {
    const folder = await serverFolder('dropped');
    // ~240 MB: a few seconds on the wire here, so the drop lands well inside the transfer.
    const csv = await writeCsv(folder, 'orders.csv', 2_500_000, 96);
    const dir = tempDir();
    cleanups.push(dir);
    const dataDir = join(dir, 'data');
    const output = join(dir, 'out');
    const job = await writeJob(dir, 'sftp-resume', folder, output);

    const running = inlet(['run', job, '--json'], { dataDir, env: sftpEnv(dataDir) });
    let finished = false;
    const done = () => {
      finished = true;
    };
    running.then(done, done);
    // The landed copy's size, sampled until the run ends: a resume only ever adds to it, where
    // a transfer started over would truncate it (and a broken resume would fail the unit, and
    // the run's retry of the whole unit would start it over).
    const sizes: number[] = [];
    const sample = () => {
      const bytes = landedBytes(dataDir);
      if (bytes !== undefined) sizes.push(bytes);
      return bytes ?? 0;
    };
    const dropAt = 24 * 1024 * 1024;
    while (!finished && sample() < dropAt) await sleep(5);
    const landedAtDrop = landedBytes(dataDir) ?? 0;
    await server.dropConnections();
    while (!finished) {
      sample();
      await sleep(5);
    }
    const result = await running;

    assert.ok(
      landedAtDrop >= dropAt && landedAtDrop < csv.bytes,
      `the drop must come mid-transfer: ${landedAtDrop} of ${csv.bytes} bytes landed`,
    );
    assert.equal(result.code, 0, `inlet run failed:\n${result.stdout}\n${result.stderr}`);
    const shrank = sizes.findIndex((bytes, i) => i > 0 && bytes < sizes[i - 1]);
    assert.equal(
      shrank,
      -1,
      `the landed copy shrank from ${sizes[shrank - 1]} to ${sizes[shrank]} bytes: the transfer started over`,
    );
    assert.ok(sizes.at(-1)! > landedAtDrop, 'the landed copy was watched after the drop');
    const run = JSON.parse(result.stdout) as RunJson;
    assert.equal(run.status, 'succeeded');
    assertIdentity(run);
    assert.equal(run.counts.written, csv.rows);
    await assertAllRows(output, csv.rows);

    const shown = await inlet(['runs', 'show', run.run_id, '--json'], { dataDir });
    const { units } = JSON.parse(shown.stdout) as { units: { contentHash: string; size: number }[] };
    assert.equal(units.length, 1);
    assert.equal(units[0].size, csv.bytes);
    assert.equal(units[0].contentHash, csv.sha256, 'the landed bytes hash like the source file');

    const events = (await readFile(join(dataDir, 'logs', `${run.run_id}.ndjson`), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event?: string; from_byte?: number; what?: string });
    const resumed = events.filter((e) => e.event === 'unit.transfer_resumed');
    assert.ok(resumed.length >= 1, 'the run log records the resumed transfer');
    // It continued from the bytes already received, not from the start.
    assert.ok(
      resumed[0].from_byte! >= landedAtDrop && resumed[0].from_byte! < csv.bytes,
      `resumed from byte ${resumed[0].from_byte}, ${landedAtDrop} had landed at the drop`,
    );
    // Resumed inside the transfer, not by landing the whole unit again.
    const restarts = events.filter((e) => e.event === 'retry.attempt' && e.what?.startsWith('read '));
    assert.deepEqual(restarts, [], 'the unit was not landed a second time');
  });

  it('takes a 2 GB file into Parquet with bounded memory', { timeout: 240_000 }, async () => {
    const folder = await serverFolder('big');
    // ~1 KiB rows keep CSV parsing cheap; the bytes are what this is about.
    const csv = await writeCsv(folder, 'wide.csv', 2_000_000, 1024);
    const dir = tempDir();
    cleanups.push(dir);
    const dataDir = join(dir, 'data');
    const output = join(dir, 'out');
    const job = await writeJob(dir, 'sftp-2gb', folder, output);

    const started = performance.now();
    const run = await runWatched(job, { ...sftpEnv(dataDir), INLET_MEMORY_LIMIT: '512MB' }, csv.bytes);
    const seconds = (performance.now() - started) / 1000;
    await rm(csv.path, { force: true });
    assert.equal(run.code, 0, `inlet run failed:\n${run.stdout}\n${run.stderr}`);
    const summary = JSON.parse(run.stdout) as RunJson;
    assert.equal(summary.status, 'succeeded');
    assertIdentity(summary);
    assert.equal(summary.counts.written, csv.rows);
    await assertAllRows(output, csv.rows);

    const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
    process.stderr.write(
      `# 2 GB over SFTP in ${seconds.toFixed(1)} s: peak RSS ${mb(run.transferPeakRss)} MB while transferring, ${mb(run.peakRss)} MB overall\n`,
    );
    assert.ok(run.transferPeakRss > 0, 'the transfer was watched');
    // While the file streams into the spool, inlet holds Node's heap, 16 pipelined 255 KiB reads,
    // the writes in flight and the loaded DuckDB library: measured here 300–350 MB, flat from
    // the first byte to the last. A transfer that buffered the file would pass 2 GB.
    assert.ok(
      run.transferPeakRss < 512e6,
      `peak RSS ${mb(run.transferPeakRss)} MB while transferring a ${mb(csv.bytes)} MB file`,
    );
    // Then DuckDB reads the spooled copy: up to its memory_limit (512MB) of buffers, plus what
    // it allocates outside the buffer manager (CSV reader buffers, string vectors, two
    // threads) and what the allocator keeps, plus Node's ~250 MB. Measured here 0.9–1.48 GB for
    // this file (one thread: 1.15–1.46 GB), and as much from a local file source: it is the
    // engine's, not the transfer's. 1.8 GB leaves margin for that noise and still fails if the
    // whole 2.1 GB file were held in memory on top of the engine.
    assert.ok(run.peakRss < 1.8e9, `peak RSS ${mb(run.peakRss)} MB for a ${mb(csv.bytes)} MB file`);
  });
});
