/**
 * This replica's memory of recent key look-ups, by key hash: a record, or `null` for a hash Redis does not know.
 *
 * Every entry lives at most `ttlMs` (0.8 s in Herd, KEY_CACHE_TTL_MS): the backstop that bounds how long a change can go unseen when
 * an invalidation message is lost. Unknown hashes are remembered too, so a client retrying a bad key does not
 * cost a Redis round trip each time, and the map never holds more than `maxEntries`: an attacker sending random
 * keys only pushes the oldest entries out.
 *
 * `clear` (an invalidation) also bumps a generation: a look-up that started before it may have read the old
 * record, so its answer is not stored (see `generation`).
 */
export class KeyCache<T> {
  private readonly entries = new Map<string, { value: T | null; until: number }>();
  private gen = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  /** The cached value (`null`: known unknown), or undefined when absent or stale. */
  get(hash: string, now: number): T | null | undefined {
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (entry.until <= now) {
      this.entries.delete(hash);
      return undefined;
    }
    return entry.value;
  }

  /** Remembers a look-up that began at `generation`; dropped when the cache was cleared since. */
  set(hash: string, value: T | null, now: number, generation: number): void {
    if (generation !== this.gen) return;
    this.entries.delete(hash);
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    this.entries.set(hash, { value, until: now + this.ttlMs });
  }

  /** Take before a look-up, hand to `set` after it. */
  get generation(): number {
    return this.gen;
  }

  clear(): void {
    this.entries.clear();
    this.gen++;
  }

  get size(): number {
    return this.entries.size;
  }
}
