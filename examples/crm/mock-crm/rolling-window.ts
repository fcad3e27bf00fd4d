const WINDOW_MS = 60_000;

/** Outcome of asking the rolling window for a slot. */
export type Admission = { admitted: true } | { admitted: false; retryAfterSeconds: number };

/**
 * Accepted-call timestamps of the last 60 s, oldest first. Each timestamp is pushed and
 * dropped once, so admitting a call costs O(1) amortized; the largest count seen right
 * after an admission is the busiest rolling minute, because every window's count peaks
 * at one of its own admissions.
 */
export class RollingWindow {
  #times: number[] = [];
  #head = 0;
  #busiest = 0;

  /** Admits a call at `now` (ms, monotonic) unless `limit` calls (0 = no limit) are already in the window. */
  admit(now: number, limit: number): Admission {
    this.#expire(now);
    const inWindow = this.#times.length - this.#head;
    if (limit > 0 && inWindow >= limit) {
      const oldestInWindow = this.#times[this.#times.length - limit];
      const waitMs = oldestInWindow + WINDOW_MS - now;
      return { admitted: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
    }
    this.#times.push(now);
    this.#busiest = Math.max(this.#busiest, inWindow + 1);
    return { admitted: true };
  }

  /** The most calls admitted within any rolling 60 s so far. */
  get busiestMinute(): number {
    return this.#busiest;
  }

  reset(): void {
    this.#times = [];
    this.#head = 0;
    this.#busiest = 0;
  }

  #expire(now: number): void {
    while (this.#head < this.#times.length && this.#times[this.#head] <= now - WINDOW_MS) this.#head++;
    // Compacting only once the dead prefix outweighs the live part keeps the copy cost amortized O(1).
    if (this.#head > 1024 && this.#head * 2 > this.#times.length) {
      this.#times = this.#times.slice(this.#head);
      this.#head = 0;
    }
  }
}
