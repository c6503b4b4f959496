/**
 * The prompt cache of one node: per loaded model, one token sequence per parallel slot (the KV cache a slot holds),
 * and optionally a host-RAM cache of sequences saved from slots. Pure bookkeeping; the engine charges the time.
 *
 * Slots follow Ollama's runner, ollama/ollama runner/ollamarunner/cache.go (`LoadCacheSlot`):
 *   - without OLLAMA_MULTIUSER_CACHE (`findLongestCacheSlot`): the idle slot with the longest common prefix with the
 *     prompt, the first one on a tie (so an unrelated prompt overwrites the first idle slot, even when another is empty);
 *   - with it (`findBestCacheSlot`): an idle slot whose whole sequence is a prefix of the prompt; else the least
 *     recently used idle slot, into which the longest common prefix of any slot (busy or not) is copied ("forking");
 *   - the prompt's first numPast tokens are reused and the rest evaluated, but never fewer than one token: a prompt
 *     that is entirely cached still evaluates its last token ("Leave one input to sample so we can get a response").
 *
 * The host-RAM cache follows llama.cpp's server (tools/server, `server_prompt_cache`, `--cache-ram`), which the
 * llama-server engine of current Ollama runs:
 *   - when the chosen slot would keep less than half of its sequence (f_keep < 0.5), the sequence is saved first
 *     (`prompt_save`): entries it contains are dropped as obsolete, nothing is saved if an entry already contains it,
 *     and the oldest entries go when there are more than `hostEntries`;
 *   - then (and for an empty slot) the entry that beats the slot on both f_keep = lcp / entry length and
 *     f_sim = lcp / prompt length, with f_keep >= 0.25, is restored into the slot and leaves the cache
 *     (`server_prompt_cache::load`). A restore copies the whole entry; the engine charges it at a high token rate.
 */

export interface CacheSlot {
  readonly id: number;
  /** Tokens whose KV the slot holds: the last request's prompt and answer, or what is left of them. */
  tokens: readonly number[];
  inUse: boolean;
  /** Order of the last start (a counter rather than a clock, so two starts never tie). 0 = never used. */
  lastUsed: number;
}

export interface SlotChoice {
  /** Index of the slot that takes the request. */
  slot: number;
  /** Prompt tokens already in that slot (after a fork, copied into it). */
  numPast: number;
  /** The slot whose first numPast tokens are copied into `slot` (multi-user cache only). */
  forkFrom?: number;
}

export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** cache.go `findLongestCacheSlot`: the idle slot with the longest common prefix, the first on a tie. */
export function findLongestCacheSlot(slots: readonly CacheSlot[], prompt: readonly number[]): SlotChoice | null {
  let longest = -1;
  let chosen = -1;
  slots.forEach((s, i) => {
    if (s.inUse) return;
    const count = commonPrefixLength(s.tokens, prompt);
    if (count > longest) {
      longest = count;
      chosen = i;
    }
  });
  return chosen < 0 ? null : { slot: chosen, numPast: longest };
}

/** cache.go `findBestCacheSlot` (OLLAMA_MULTIUSER_CACHE): an exact-prefix idle slot, else the LRU idle slot, forked. */
export function findBestCacheSlot(slots: readonly CacheSlot[], prompt: readonly number[]): SlotChoice | null {
  let longest = -1;
  let longestSlot = -1;
  let oldest = Infinity;
  let oldestSlot = -1;
  slots.forEach((s, i) => {
    const count = commonPrefixLength(s.tokens, prompt);
    if (count > longest) {
      longest = count;
      longestSlot = i;
    }
    if (!s.inUse && s.lastUsed < oldest) {
      oldest = s.lastUsed;
      oldestSlot = i;
    }
  });
  if (longestSlot >= 0 && longest === slots[longestSlot].tokens.length && !slots[longestSlot].inUse) {
    return { slot: longestSlot, numPast: longest };
  }
  if (oldestSlot < 0) return null;
  if (longest > 0 && longestSlot !== oldestSlot) return { slot: oldestSlot, numPast: longest, forkFrom: longestSlot };
  return { slot: oldestSlot, numPast: Math.max(0, longest) };
}

/** llama.cpp keeps a slot's sequence in host RAM before reusing the slot when it would keep less than this share. */
export const SAVE_BELOW_KEEP = 0.5;
/** llama.cpp never restores an entry of which less than this share would be kept ("don't trash large prompts"). */
export const MIN_RESTORE_KEEP = 0.25;

/**
 * llama.cpp `server_prompt_cache::load`: the entry that beats the slot's own sequence on both the share of the
 * entry kept and the share of the prompt covered; null when none does.
 */
export function findHostEntry(
  entries: readonly (readonly number[])[],
  slotTokens: readonly number[],
  prompt: readonly number[],
): { index: number; lcp: number } | null {
  if (prompt.length === 0) return null;
  const base = commonPrefixLength(slotTokens, prompt);
  let keepBest = slotTokens.length > 0 ? base / slotTokens.length : -1; // an empty slot: any entry wins
  let simBest = base / prompt.length;
  let best: { index: number; lcp: number } | null = null;
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index];
    if (entry.length === 0) continue;
    const lcp = commonPrefixLength(entry, prompt);
    const keep = lcp / entry.length;
    const sim = lcp / prompt.length;
    if (keep < MIN_RESTORE_KEEP) continue;
    if (keepBest < keep && simBest < sim) {
      keepBest = keep;
      simBest = sim;
      best = { index, lcp };
    }
  }
  return best;
}

/** True when `a` is a prefix of `b` (or equal to it). */
function isPrefix(a: readonly number[], b: readonly number[]): boolean {
  return a.length <= b.length && commonPrefixLength(a, b) === a.length;
}

/**
 * llama.cpp `server_prompt_cache::alloc`: adds `tokens` unless an entry already contains them, drops the entries
 * they contain, and keeps at most `capacity` entries (the oldest go first). Returns true when it saved.
 */
export function saveHostEntry(entries: (readonly number[])[], tokens: readonly number[], capacity: number): boolean {
  if (capacity <= 0 || tokens.length === 0) return false;
  if (entries.some((e) => isPrefix(tokens, e))) return false;
  for (let i = entries.length - 1; i >= 0; i--) if (isPrefix(entries[i], tokens)) entries.splice(i, 1);
  entries.push(tokens);
  while (entries.length > capacity) entries.shift();
  return true;
}

export interface PromptCacheOptions {
  /** Parallel slots per loaded model. */
  slots: number;
  /** Host-RAM entries per loaded model; 0 = no host cache. */
  hostEntries: number;
  /** OLLAMA_MULTIUSER_CACHE: findBestCacheSlot instead of findLongestCacheSlot. */
  multiUser: boolean;
}

/** Counters since the node started or its log was last reset. cachedTokens / promptTokens is the hit ratio. */
export interface PromptCacheStats {
  /** Generations that went through the cache. */
  requests: number;
  /** Their prompt tokens (the sum of prompt_eval_count). */
  promptTokens: number;
  /** Prompt tokens not evaluated because a slot held them (restored ones included). */
  cachedTokens: number;
  /** Of cachedTokens, those restored from host RAM. */
  restoredTokens: number;
  /** Generations that reused at least one token. */
  hits: number;
  /** Sequences saved to host RAM. */
  hostSaves: number;
  /** Entries restored from host RAM into a slot. */
  hostRestores: number;
}

export interface PromptCacheSnapshot {
  stats: PromptCacheStats;
  /** Per loaded model that has used its cache: slot and host-RAM sequence lengths in tokens. */
  models: Array<{ model: string; slots: Array<{ id: number; tokens: number; inUse: boolean }>; host: number[] }>;
}

/** What one generation gets from the cache. */
export interface CacheLease {
  readonly promptTokens: number;
  /** Prompt tokens not evaluated (held by the slot, possibly just restored into it). */
  readonly cachedTokens: number;
  /** Of cachedTokens, those restored from host RAM. */
  readonly restoredTokens: number;
  /** Tokens copied from host RAM (the whole restored entry): the restore cost. */
  readonly copiedTokens: number;
  /** Prompt tokens to evaluate: promptTokens - cachedTokens, at least 1. */
  readonly evaluatedTokens: number;
}

interface ModelCache {
  slots: CacheSlot[];
  host: (readonly number[])[];
}

interface Lease extends CacheLease {
  model: ModelCache;
  slot: CacheSlot;
  prompt: readonly number[];
}

function emptyStats(): PromptCacheStats {
  return { requests: 0, promptTokens: 0, cachedTokens: 0, restoredTokens: 0, hits: 0, hostSaves: 0, hostRestores: 0 };
}

export class PromptCache {
  private readonly models = new Map<string, ModelCache>();
  private counters = emptyStats();
  private clock = 0;

  constructor(private readonly options: PromptCacheOptions) {}

  /** Takes a slot for `prompt` on `modelKey` (which must be loaded); release() gives it back. */
  acquire(modelKey: string, prompt: readonly number[]): CacheLease {
    const model = this.modelCache(modelKey);
    const choice = (this.options.multiUser ? findBestCacheSlot : findLongestCacheSlot)(model.slots, prompt);
    if (!choice) throw new Error('no available cache slots');
    const slot = model.slots[choice.slot];
    const previous = slot.tokens;
    let held: readonly number[] =
      choice.forkFrom !== undefined ? model.slots[choice.forkFrom].tokens.slice(0, choice.numPast) : previous;
    let numPast = choice.numPast;
    let restored = 0;
    let copied = 0;

    if (this.options.hostEntries > 0) {
      const losing = previous.length > 0 && commonPrefixLength(previous, prompt) / previous.length < SAVE_BELOW_KEEP;
      if (losing && saveHostEntry(model.host, previous, this.options.hostEntries)) this.counters.hostSaves++;
      if (losing || previous.length === 0) {
        const hit = findHostEntry(model.host, held, prompt);
        if (hit) {
          held = model.host[hit.index];
          model.host.splice(hit.index, 1);
          numPast = hit.lcp;
          restored = hit.lcp;
          copied = held.length;
          this.counters.hostRestores++;
        }
      }
    }

    // cache.go LoadCacheSlot: "Leave one input to sample so we can get a response"
    if (numPast >= prompt.length) numPast = Math.max(0, prompt.length - 1);
    restored = Math.min(restored, numPast);
    slot.inUse = true;
    slot.lastUsed = ++this.clock;
    slot.tokens = held.slice(0, numPast);

    const c = this.counters;
    c.requests++;
    c.promptTokens += prompt.length;
    c.cachedTokens += numPast;
    c.restoredTokens += restored;
    if (numPast > 0) c.hits++;
    const lease: Lease = {
      model,
      slot,
      prompt,
      promptTokens: prompt.length,
      cachedTokens: numPast,
      restoredTokens: restored,
      copiedTokens: copied,
      evaluatedTokens: prompt.length - numPast,
    };
    return lease;
  }

  /** The prompt has been evaluated: the slot now holds all of it. */
  prefilled(lease: CacheLease): void {
    const l = lease as Lease;
    l.slot.tokens = l.prompt;
  }

  /** The generation ended; `tokens` is what the slot holds now (prompt and answer), or null to leave it as it is. */
  release(lease: CacheLease, tokens: readonly number[] | null): void {
    const l = lease as Lease;
    l.slot.inUse = false;
    if (tokens) l.slot.tokens = tokens;
  }

  /** The model left memory: its slots and host-RAM entries are gone. */
  clearModel(modelKey: string): void {
    this.models.delete(modelKey);
  }

  stats(): PromptCacheStats {
    return { ...this.counters };
  }

  resetStats(): void {
    this.counters = emptyStats();
  }

  snapshot(): PromptCacheSnapshot {
    return {
      stats: this.stats(),
      models: [...this.models].map(([model, m]) => ({
        model,
        slots: m.slots.map((s) => ({ id: s.id, tokens: s.tokens.length, inUse: s.inUse })),
        host: m.host.map((e) => e.length),
      })),
    };
  }

  private modelCache(key: string): ModelCache {
    let model = this.models.get(key);
    if (!model) {
      model = {
        slots: Array.from({ length: this.options.slots }, (_, id) => ({ id, tokens: [], inUse: false, lastUsed: 0 })),
        host: [],
      };
      this.models.set(key, model);
    }
    return model;
  }
}
