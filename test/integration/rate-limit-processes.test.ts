import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { it } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const INTERVAL_MS = 100; // 600 calls per minute
const WINDOW_MS = 1000;
const LIMIT_PER_WINDOW = WINDOW_MS / INTERVAL_MS;
const DURATION_MS = 4000;

interface Grant {
  /** The clock reading the store granted the slot on. */
  slot: number;
  /** Date.now() when acquire() resolved in the worker. */
  returned: number;
}

/** Runs test/fixtures/rate-limit-worker.ts in its own Node process; resolves with its grants. */
function worker(dbPath: string, startAt: number, endAt: number): Promise<Grant[]> {
  return new Promise((done, fail) => {
    const child = spawn(
      join(ROOT, 'bin', 'node-24'),
      [join(ROOT, 'test', 'fixtures', 'rate-limit-worker.ts'), dbPath, String(startAt), String(endAt)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', fail);
    child.on('close', (code) => {
      if (code !== 0) return fail(new Error(`worker exited with ${code}: ${stderr}`));
      done(
        stdout
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const [slot, returned] = line.split(' ').map(Number);
            return { slot, returned };
          }),
      );
    });
  });
}

/** The most of `times` inside any window of `width` ms, closed [t, t + width] or half-open [t, t + width). */
function maxInWindow(times: number[], width: number, closed: boolean): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (closed ? sorted[i] - sorted[j] > width : sorted[i] - sorted[j] >= width) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

it('holds one rate limit across two processes with two runs each, and uses it', {
  timeout: 60_000,
}, async () => {
  const dbPath = join(mkdtempSync(join(tmpdir(), 'inlet-rate-')), 'inlet.db');
  // Migrate once before the workers open the file, so that they race for slots, not for migrations.
  await new SqliteStore(dbPath).close();
  // A common start a little ahead, so both processes have booted and contend for the same interval.
  const startAt = Date.now() + 1500;
  const endAt = startAt + DURATION_MS;
  const [a, b] = await Promise.all([worker(dbPath, startAt, endAt), worker(dbPath, startAt, endAt)]);

  assert.ok(a.length > 0 && b.length > 0, `grants per process: ${a.length}, ${b.length}`);
  const slots = [...a, ...b].map((grant) => grant.slot).sort((x, y) => x - y);

  // The product's promise, with no tolerance: the store granted every slot at least T after the
  // one before, whichever process took it. Hence at most 10 in any half-open second [t, t + 1000);
  // a closed window [t, t + 1000] can hold an 11th, granted exactly 1000 ms after the first, which
  // belongs to the next second (the limit is 600 per rolling minute, 10 per rolling second).
  const gaps = slots.slice(1).map((slot, i) => slot - slots[i]);
  assert.ok(Math.min(...gaps) >= INTERVAL_MS, `slots ${Math.min(...gaps)} ms apart`);
  assert.ok(maxInWindow(slots, WINDOW_MS, false) <= LIMIT_PER_WINDOW);
  assert.ok(maxInWindow(slots, WINDOW_MS, true) <= LIMIT_PER_WINDOW + 1);

  // The limit is used, not just respected: slots at start, start + T, … fill the closed interval.
  const inRun = slots.filter((slot) => slot >= startAt && slot <= endAt).length;
  const most = DURATION_MS / INTERVAL_MS + 1;
  assert.ok(inRun >= 0.9 * (DURATION_MS / INTERVAL_MS) && inRun <= most, `${inRun} grants of ${most}`);

  // What a caller sees: Date.now() once acquire() resolved lags its slot by the commit and the
  // event loop. A lag up to `maxLag` widens a window by as much, so the bound above becomes
  // floor((1000 + maxLag) / T) + 1: still 11 whenever no grant came back T or more late.
  const lags = [...a, ...b].map((grant) => grant.returned - grant.slot);
  const maxLag = Math.max(...lags);
  const returned = [...a, ...b].map((grant) => grant.returned);
  assert.ok(maxInWindow(returned, WINDOW_MS, true) <= Math.floor((WINDOW_MS + maxLag) / INTERVAL_MS) + 1);
  console.log(
    `rate limit: ${inRun}/${most} slots (${a.length} + ${b.length}), min gap ${Math.min(...gaps)} ms, ` +
      `grant-to-return lag max ${maxLag} ms, most returned in a closed second ${maxInWindow(returned, WINDOW_MS, true)}`,
  );
});
