/** An answer kept so that a call repeated under its idempotency key gets it again. */
export interface StoredAnswer {
  requestId: string;
  body: string;
}

/** Stored answers by endpoint and idempotency key, forgetting the oldest beyond `limit`. */
export class ReplayStore {
  #answers = new Map<string, StoredAnswer>();

  get(endpoint: string, key: string): StoredAnswer | undefined {
    return this.#answers.get(`${endpoint} ${key}`);
  }

  set(endpoint: string, key: string, answer: StoredAnswer, limit: number): void {
    this.#answers.set(`${endpoint} ${key}`, answer);
    // A Map iterates in insertion order, so its first keys are the oldest.
    for (const oldest of this.#answers.keys()) {
      if (this.#answers.size <= limit) break;
      this.#answers.delete(oldest);
    }
  }

  clear(): void {
    this.#answers.clear();
  }
}
