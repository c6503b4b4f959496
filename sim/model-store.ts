import { raceAbort } from './clock';
import { DEFAULT_KEEP_ALIVE_MS } from './keep-alive';
import type { ModelEntry } from './model-catalog';
import { modelKey, normaliseModelName } from './model-names';

interface Residency {
  lastUsed: number;
  /** Epoch ms after which an idle model is unloaded; Infinity = never. Ignored while pinned. */
  expiresAt: number;
}

interface Pin {
  count: number;
  /** keep_alive of the latest request that pinned the model (Ollama keeps the latest session duration). */
  keepAliveMs: number;
  unloadWhenIdle: boolean;
}

export interface ResidentModel {
  entry: ModelEntry;
  /** Epoch ms; Infinity = never. */
  expiresAt: number;
}

/**
 * Models on one node's "disk" and in its "memory".
 * - A request pins its model for its whole life; pinned models are never evicted nor expired.
 * - ensureLoaded() shares one load between concurrent requests for the same cold model.
 * - Starting a load beyond maxLoaded evicts the least recently used unpinned model; if every model is pinned
 *   the node runs over the limit and trims back as soon as models become idle.
 * - Idle models expire lazily (checked on every access) when their keep_alive runs out.
 * - Whenever a model leaves memory (expiry, keep_alive 0, eviction, deletion) `onUnload` hears of it.
 */
export class ModelStore {
  private readonly models = new Map<string, ModelEntry>();
  private readonly resident = new Map<string, Residency>();
  private readonly loading = new Map<string, Promise<void>>();
  private readonly pins = new Map<string, Pin>();
  /** Blob digests ('sha256:<hex>') uploaded to this node, with their size. */
  readonly blobs = new Map<string, number>();

  constructor(
    private readonly maxLoaded: number,
    /** Performs the (simulated) load delay of one model; never rejects. */
    private readonly loadDelay: (entry: ModelEntry) => Promise<void>,
    private readonly now: () => number = Date.now,
    /** Requests find a model only under its exact spelling (see SimNodeOptions.caseSensitiveNames). */
    private readonly caseSensitive = false,
    /** Called with the key of a model that left memory (its prompt cache goes with it). */
    private readonly onUnload: (key: string) => void = () => undefined,
  ) {}

  /** The model a request names: any case, or (case-sensitive store) exactly as stored, `:latest` implied. */
  find(name: string): ModelEntry | undefined {
    const entry = this.models.get(modelKey(name));
    return entry && (!this.caseSensitive || entry.name === normaliseModelName(name)) ? entry : undefined;
  }

  list(): ModelEntry[] {
    return [...this.models.values()];
  }

  put(entry: ModelEntry): void {
    this.models.set(entry.key, entry);
  }

  /** Removes the model from disk and memory. False when it did not exist (under that spelling, if case-sensitive). */
  remove(name: string): boolean {
    const key = modelKey(name);
    if (!this.find(name) || !this.models.delete(key)) return false;
    this.drop(key);
    return true;
  }

  /** Marks models as loaded at start; they stay until a request gives them a keep_alive. */
  preload(names: readonly string[]): void {
    for (const name of names) {
      // Configuration, not a request: any case.
      const entry = this.models.get(modelKey(name));
      if (entry) this.resident.set(entry.key, { lastUsed: this.now(), expiresAt: Infinity });
    }
    this.trim();
  }

  isResident(key: string): boolean {
    this.sweep();
    return this.resident.has(key);
  }

  residentModels(): ResidentModel[] {
    this.sweep();
    const out: ResidentModel[] = [];
    const now = this.now();
    for (const [key, residency] of this.resident) {
      const entry = this.models.get(key);
      if (!entry) continue;
      const pin = this.pins.get(key);
      const expiresAt = pin ? now + pin.keepAliveMs : residency.expiresAt;
      out.push({ entry, expiresAt });
    }
    // most recently used first, like Ollama's ps
    out.sort((a, b) => (this.resident.get(b.entry.key)?.lastUsed ?? 0) - (this.resident.get(a.entry.key)?.lastUsed ?? 0));
    return out;
  }

  pin(key: string, keepAliveMs: number): void {
    const pin = this.pins.get(key);
    if (pin) {
      pin.count++;
      pin.keepAliveMs = keepAliveMs;
    } else {
      this.pins.set(key, { count: 1, keepAliveMs, unloadWhenIdle: false });
    }
    const residency = this.resident.get(key);
    if (residency) residency.lastUsed = this.now();
  }

  unpin(key: string): void {
    const pin = this.pins.get(key);
    if (!pin) return;
    pin.count--;
    if (pin.count > 0) return;
    this.pins.delete(key);
    const residency = this.resident.get(key);
    if (residency) {
      residency.lastUsed = this.now();
      if (pin.keepAliveMs <= 0 || pin.unloadWhenIdle) this.drop(key);
      else residency.expiresAt = residency.lastUsed + pin.keepAliveMs;
    }
    this.trim();
  }

  /**
   * Resolves once the model is in memory. True when this call had to wait for a load (its own or a shared one).
   * The caller must have pinned the model. Aborting the signal abandons the wait, not the shared load.
   */
  async ensureLoaded(key: string, signal: AbortSignal): Promise<boolean> {
    this.sweep();
    const residency = this.resident.get(key);
    if (residency) {
      residency.lastUsed = this.now();
      return false;
    }
    let load = this.loading.get(key);
    if (!load) {
      const entry = this.models.get(key);
      if (!entry) throw new Error(`model ${key} vanished`);
      this.makeRoom();
      load = this.loadDelay(entry).then(() => {
        this.loading.delete(key);
        if (this.models.has(key)) {
          // if every waiter gave up, the model still stays for the default keep_alive
          const expiresAt = this.pins.has(key) ? Infinity : this.now() + DEFAULT_KEEP_ALIVE_MS;
          this.resident.set(key, { lastUsed: this.now(), expiresAt });
        }
        this.trim();
      });
      this.loading.set(key, load);
    }
    await raceAbort(load, signal);
    return true;
  }

  /** keep_alive 0 with an empty prompt: unload now, or as soon as the requests using it finish. */
  unload(key: string): void {
    const pin = this.pins.get(key);
    if (pin) pin.unloadWhenIdle = true;
    else this.drop(key);
  }

  /** Takes a model out of memory. */
  private drop(key: string): void {
    this.resident.delete(key);
    this.onUnload(key);
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, residency] of this.resident) {
      if (residency.expiresAt <= now && !this.pins.has(key)) this.drop(key);
    }
  }

  /** Before a load: evict until the newcomer fits. */
  private makeRoom(): void {
    while (this.resident.size + this.loading.size >= this.maxLoaded) {
      if (!this.evictOne()) return;
    }
  }

  /** After a load or when a model goes idle: evict back down to the limit. */
  private trim(): void {
    while (this.resident.size + this.loading.size > this.maxLoaded) {
      if (!this.evictOne()) return;
    }
  }

  private evictOne(): boolean {
    let victim: string | undefined;
    let oldest = Infinity;
    for (const [key, residency] of this.resident) {
      if (this.pins.has(key)) continue;
      if (residency.lastUsed < oldest) {
        oldest = residency.lastUsed;
        victim = key;
      }
    }
    if (victim === undefined) return false;
    this.drop(victim);
    return true;
  }
}
