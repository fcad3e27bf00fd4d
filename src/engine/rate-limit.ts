import { setTimeout as delay } from 'node:timers/promises';
import type { MetadataStore } from '../store/store.ts';

/** What a {@link SharedRateLimiter} needs: the limit, where its state lives, and (for tests) a clock. */
export interface SharedRateLimiterOptions {
  store: Pick<MetadataStore, 'takeRateSlot' | 'delayRateSlots'>;
  /** Names the limited endpoint; every limiter with this key shares one budget, e.g. `http:https://crm.example/api`. */
  key: string;
  callsPerMinute: number;
  /** Extra calls allowed at once after an idle spell (default 0: calls evenly spaced). */
  burst?: number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * A rate limit shared by every run and process using one metadata store: GCRA, a token
 * bucket kept as one number per key, the theoretical arrival time (TAT) of the next call.
 *
 * With limit L per period P the emission interval is T = P / L. A call at `now` is granted
 * when max(TAT, now) − now ≤ B (the burst tolerance) and moves TAT to max(TAT, now) + T.
 * With B = 0 each grant comes at least T after the one before, so no rolling window of
 * length P holds more than L calls. A tolerance B lets an idle limiter grant B / T + 1 calls
 * at once, and lets a window [x, x + P) hold L + B / T: each grant in it moves TAT on by T
 * from at least x, and the k-th still needs TAT ≤ now + B < x + P + B, so (k − 1)·T < P + B.
 * Hence `burst` is counted in calls (B = burst·T), and a sink that must never exceed the far
 * side's limit keeps it at 0.
 */
export class SharedRateLimiter {
  readonly #store: SharedRateLimiterOptions['store'];
  readonly #key: string;
  readonly #intervalMs: number;
  readonly #burstToleranceMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(options: SharedRateLimiterOptions) {
    const { callsPerMinute, burst = 0 } = options;
    if (!Number.isFinite(callsPerMinute) || callsPerMinute <= 0)
      throw new RangeError(`callsPerMinute must be a positive number, got ${callsPerMinute}`);
    if (!Number.isSafeInteger(burst) || burst < 0)
      throw new RangeError(`burst must be a whole number of calls ≥ 0, got ${burst}`);
    this.#store = options.store;
    this.#key = options.key;
    // The store keeps whole milliseconds; rounding the interval up keeps the rate at or under
    // the limit (7/min spaces calls 8572 ms apart, not 8571.43), never over it.
    this.#intervalMs = Math.ceil(60_000 / callsPerMinute);
    this.#burstToleranceMs = burst * this.#intervalMs;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? sleep;
  }

  /** Resolves when this caller may make one call; rejects with the signal's reason when aborted first. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const waitMs = await this.#store.takeRateSlot(
        this.#key,
        this.#intervalMs,
        this.#burstToleranceMs,
        this.#now(),
      );
      // The clock is read before the store takes its lock: a caller held up by the lock is
      // granted on a reading a few ms old, which can only bring calls that much closer together
      // as the far side sees them, never let more slots through.
      if (waitMs === 0) return;
      // Waiting does not reserve the slot: another caller may take it first, so ask again.
      await this.#sleep(waitMs, signal);
    }
  }

  /**
   * Holds every caller of this key back for `retryAfterMs` (the server answered 429 or 503
   * with Retry-After). The burst tolerance is added so that not even a burst gets through
   * before then: calls resume one at a time, T apart, as the budget refills.
   */
  async backOff(retryAfterMs: number): Promise<void> {
    await this.#store.delayRateSlots(this.#key, this.#now() + retryAfterMs + this.#burstToleranceMs);
  }
}

/** Waits `ms`; when aborted, rejects with the signal's reason like `throwIfAborted`, not Node's AbortError. */
async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (error) {
    signal?.throwIfAborted();
    throw error;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
const MONTH = `(${MONTHS.join('|')})`;
// RFC 9110 §5.6.7: IMF-fixdate, and the obsolete RFC 850 and asctime forms recipients must still accept.
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC_850 = new RegExp(
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`,
);
const ASCTIME = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`);

/**
 * The wait a Retry-After header asks for, in ms from `now`: delay-seconds or an HTTP-date
 * (0 once that date has passed); null when the header is absent or unreadable.
 */
export function parseRetryAfter(header: string | null, now: number): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) {
    const ms = Number(value) * 1000;
    return Number.isSafeInteger(ms) ? ms : null;
  }
  const at = parseHttpDate(value, now);
  return at === null ? null : Math.max(0, at - now);
}

/** An HTTP-date in any of its three forms as ms since the epoch; Date.parse would read asctime as local time. */
function parseHttpDate(value: string, now: number): number | null {
  let match = IMF_FIXDATE.exec(value);
  if (match) return utc(Number(match[3]), match[2], match[1], match.slice(4, 7));
  match = RFC_850.exec(value);
  if (match) return utc(fullYear(Number(match[3]), now), match[2], match[1], match.slice(4, 7));
  match = ASCTIME.exec(value);
  if (match) return utc(Number(match[6]), match[1], match[2], match.slice(3, 6));
  return null;
}

/** RFC 9110: a two-digit year more than 50 years ahead means the most recent past year with those digits. */
function fullYear(twoDigits: number, now: number): number {
  const thisYear = new Date(now).getUTCFullYear();
  const year = thisYear - (thisYear % 100) + twoDigits;
  return year > thisYear + 50 ? year - 100 : year;
}

/** The instant, or null for a date that does not exist (31 Feb, 25:00:00). */
function utc(year: number, monthName: string, dayText: string, time: string[]): number | null {
  const month = MONTHS.indexOf(monthName);
  const day = Number(dayText.trim());
  const [hours, minutes, seconds] = time.map(Number);
  const at = Date.UTC(year, month, day, hours, minutes, seconds);
  const check = new Date(at);
  const exists =
    check.getUTCFullYear() === year &&
    check.getUTCMonth() === month &&
    check.getUTCDate() === day &&
    check.getUTCHours() === hours &&
    check.getUTCMinutes() === minutes &&
    check.getUTCSeconds() === seconds;
  return exists ? at : null;
}
