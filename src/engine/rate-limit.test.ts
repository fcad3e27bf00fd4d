import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { parseRetryAfter, SharedRateLimiter } from './rate-limit.ts';

const KEY = 'http:https://crm.example/api';
const START = 1_700_000_000_000;

/**
 * Virtual time: `sleep` parks the caller until `run` moves the clock to its wake-up, so
 * concurrent limiters interleave as they would in real time, without waiting for it.
 */
class FakeClock {
  t = START;
  readonly sleeps: number[] = [];
  #timers: { at: number; wake: () => void }[] = [];

  now = (): number => this.t;

  sleep = (ms: number, signal?: AbortSignal): Promise<void> => {
    this.sleeps.push(ms);
    return new Promise((resolve, reject) => {
      const timer = { at: this.t + ms, wake: resolve };
      this.#timers.push(timer);
      signal?.addEventListener('abort', () => {
        this.#timers = this.#timers.filter((other) => other !== timer);
        reject(signal.reason);
      });
    });
  };

  /** Settles `work`, advancing the clock timer by timer whenever every caller is asleep. */
  async run<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    const result = work.finally(() => {
      settled = true;
    });
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (settled) return result;
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers.shift();
      if (!next) return result;
      this.t = Math.max(this.t, next.at);
      next.wake();
    }
  }
}

/** The most grants in any half-open window [t, t + width). */
function maxInWindow(times: number[], width: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j] < sorted[i] - width + 1) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

let store: SqliteStore;
let clock: FakeClock;

beforeEach(() => {
  store = new SqliteStore(join(mkdtempSync(join(tmpdir(), 'inlet-rate-')), 'inlet.db'));
  clock = new FakeClock();
});
afterEach(() => store.close());

const limiter = (callsPerMinute: number, burst?: number, key = KEY) =>
  new SharedRateLimiter({ store, key, callsPerMinute, burst, now: clock.now, sleep: clock.sleep });

/** Each caller acquires `calls` times in a row; returns every grant's time. */
async function grants(callers: SharedRateLimiter[], calls: number): Promise<number[]> {
  const times: number[] = [];
  await clock.run(
    Promise.all(
      callers.map(async (caller) => {
        for (let i = 0; i < calls; i++) {
          await caller.acquire();
          times.push(clock.t);
        }
      }),
    ),
  );
  return times.sort((a, b) => a - b);
}

describe('SharedRateLimiter', () => {
  it('spaces grants exactly T = 60 s / limit apart, however many callers share the key', async () => {
    const times = await grants([limiter(600), limiter(600), limiter(600)], 4);
    assert.deepEqual(
      times,
      Array.from({ length: 12 }, (_, i) => START + i * 100),
    );
    assert.equal(maxInWindow(times, 1000), 10);
  });

  it('tells a caller exactly how long to wait and takes nothing meanwhile', async () => {
    assert.equal(await store.takeRateSlot(KEY, 100, 0, START), 0);
    assert.equal(await store.takeRateSlot(KEY, 100, 0, START + 30), 70);
    assert.equal(await store.takeRateSlot(KEY, 100, 0, START + 99), 1);
    assert.equal(await store.takeRateSlot(KEY, 100, 0, START + 100), 0);
    assert.equal(await store.takeRateSlot('http:https://other.example', 100, 0, START + 100), 0);
    // An idle spell banks nothing: the next grant is T after the late one, not at the old TAT.
    assert.equal(await store.takeRateSlot(KEY, 100, 0, START + 5000), 0);
    assert.equal(await store.takeRateSlot(KEY, 100, 0, START + 5001), 99);

    const caller = limiter(600);
    clock.t = START + 5040;
    await clock.run(caller.acquire());
    assert.deepEqual(clock.sleeps, [60]);
    assert.equal(clock.t, START + 5100);
  });

  it('rounds a fractional interval up, so the limit is never exceeded', async () => {
    const times = await grants([limiter(7)], 3);
    assert.deepEqual(times, [START, START + 8572, START + 2 * 8572]);
  });

  it('lets `burst` extra calls through at once after an idle spell, then spaces them again', async () => {
    const callers = [limiter(600, 2), limiter(600, 2)];
    const times = await grants(callers, 6);
    assert.deepEqual(times.slice(0, 4), [START, START, START, START + 100]);
    assert.deepEqual(
      times.slice(3),
      [1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => START + i * 100),
    );
    // L + B/T: a window may hold the burst on top of the limit, which is why the sink keeps it at 0.
    const long = await grants(callers, 20);
    assert.equal(maxInWindow([...times, ...long], 1000), 12);

    clock.t += 10_000;
    const again = await grants([limiter(600, 2)], 4);
    assert.deepEqual(again, [clock.t - 100, clock.t - 100, clock.t - 100, clock.t]);
  });

  it('backs every later caller off past Retry-After, bursts included', async () => {
    const first = limiter(600, 1);
    await clock.run(first.acquire());
    await first.backOff(5000);
    const until = START + 5000;
    const times = await grants([limiter(600, 1), limiter(600, 1), first], 2);
    assert.ok(times[0] >= until, `first grant ${times[0] - START} ms, before Retry-After`);
    assert.deepEqual(
      times,
      Array.from({ length: 6 }, (_, i) => until + i * 100),
    );
    // An earlier Retry-After never shortens a longer one already in force.
    await store.delayRateSlots(KEY, START);
    assert.ok((await store.takeRateSlot(KEY, 100, 0, until + 550)) > 0);
  });

  it('stops waiting when aborted, with the signal’s reason and without a slot', async () => {
    const real = new SharedRateLimiter({ store, key: KEY, callsPerMinute: 1 });
    await real.acquire();
    const startedAt = Date.now();
    const reason = new Error('run cancelled');
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(real.acquire(controller.signal), (error) => error === reason);
    assert.ok(Date.now() - startedAt < 5000);
    assert.ok(
      (await store.takeRateSlot(KEY, 60_000, 0, Date.now())) <= 60_000,
      'the aborted wait took a slot',
    );
    await assert.rejects(real.acquire(AbortSignal.abort(reason)), (error) => error === reason);
  });

  it('refuses a limit or burst it cannot honour', () => {
    for (const callsPerMinute of [0, -5, Number.NaN, Number.POSITIVE_INFINITY])
      assert.throws(() => limiter(callsPerMinute), RangeError);
    for (const burst of [-1, 1.5]) assert.throws(() => limiter(600, burst), RangeError);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 2, 1, 12, 0, 0);

  it('reads delay-seconds', () => {
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
  });

  it('reads an HTTP-date in all three forms, as GMT, and a past date as no wait', () => {
    assert.equal(parseRetryAfter('Sun, 01 Mar 2026 12:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Sunday, 01-Mar-26 12:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Sun Mar  1 12:00:05 2026', now), 5_000);
    assert.equal(parseRetryAfter('Sat, 28 Feb 2026 12:00:00 GMT', now), 0);
  });

  it('answers null for a missing or unreadable header', () => {
    for (const header of [
      null,
      '',
      'soon',
      '-5',
      '1.5',
      '12abc',
      '99999999999999999999',
      'Sun, 01 Mar 2026 12:00:30 PST',
      'Tue, 31 Feb 2026 12:00:00 GMT',
      '2026-03-01T12:00:30Z',
    ])
      assert.equal(parseRetryAfter(header, now), null, String(header));
  });
});
