import { createHash } from 'node:crypto';
import type { Clock } from '../../../shared/clock/clock.js';

/** Cache key of a token: its SHA-256, so the token itself is never kept. */
export const tokenKey = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Successful token reviews, kept for a short time so an agent's renewals do not each cost a TokenReview
 * (the API server caches them about as long itself). Bounded: expired entries go first, then the oldest.
 */
export class ReviewCache<T> {
  readonly #entries = new Map<string, { value: T; expiresAtMs: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: Clock,
    private readonly maxEntries = 10_000,
  ) {}

  get(key: string): T | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs <= this.clock.monotonicMs()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: T): void {
    const now = this.clock.monotonicMs();
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxEntries) {
      for (const [k, entry] of this.#entries) if (entry.expiresAtMs <= now) this.#entries.delete(k);
    }
    if (this.#entries.size >= this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, expiresAtMs: now + this.ttlMs });
  }

  get size(): number {
    return this.#entries.size;
  }
}
