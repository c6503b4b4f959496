import { resolveNodeOptions, validateNodeOptions } from './node-options';
import {
  type CacheSlot,
  commonPrefixLength,
  findBestCacheSlot,
  findHostEntry,
  findLongestCacheSlot,
  PromptCache,
  saveHostEntry,
} from './prompt-cache';

/** The prefix and slot choice, pure: Ollama's LoadCacheSlot and llama.cpp's host-RAM prompt cache. */

const seq = (from: number, length: number): number[] => Array.from({ length }, (_, i) => from + i);
const slot = (id: number, tokens: number[], extra: Partial<CacheSlot> = {}): CacheSlot => ({ id, tokens, inUse: false, lastUsed: 0, ...extra });

describe('commonPrefixLength', () => {
  it('counts equal leading tokens', () => {
    expect(commonPrefixLength([1, 2, 3], [1, 2, 4, 5])).toBe(2);
    expect(commonPrefixLength([1, 2], [1, 2, 3])).toBe(2);
    expect(commonPrefixLength([], [1])).toBe(0);
    expect(commonPrefixLength([9], [1])).toBe(0);
  });
});

describe('findLongestCacheSlot (Ollama default)', () => {
  it('takes the idle slot with the longest common prefix', () => {
    const slots = [slot(0, [1, 2, 9]), slot(1, [1, 2, 3, 4]), slot(2, [1, 2, 3, 4, 5], { inUse: true })];
    expect(findLongestCacheSlot(slots, [1, 2, 3, 4, 5, 6])).toEqual({ slot: 1, numPast: 4 });
  });

  it('takes the first idle slot on a tie, so an unrelated prompt overwrites slot 0 even when slot 1 is empty', () => {
    const slots = [slot(0, [7, 8, 9]), slot(1, [])];
    expect(findLongestCacheSlot(slots, [1, 2])).toEqual({ slot: 0, numPast: 0 });
  });

  it('finds nothing when every slot is busy', () => {
    expect(findLongestCacheSlot([slot(0, [1], { inUse: true })], [1])).toBeNull();
  });
});

describe('findBestCacheSlot (OLLAMA_MULTIUSER_CACHE)', () => {
  it('reuses an idle slot whose whole sequence is a prefix of the prompt', () => {
    const slots = [slot(0, [5, 6], { lastUsed: 1 }), slot(1, [1, 2, 3], { lastUsed: 2 })];
    expect(findBestCacheSlot(slots, [1, 2, 3, 4])).toEqual({ slot: 1, numPast: 3 });
  });

  it('otherwise takes the least recently used idle slot and forks the longest prefix into it', () => {
    const slots = [slot(0, [1, 2, 3, 9], { lastUsed: 5 }), slot(1, [7], { lastUsed: 2 }), slot(2, [8], { lastUsed: 3 })];
    expect(findBestCacheSlot(slots, [1, 2, 3, 4])).toEqual({ slot: 1, numPast: 3, forkFrom: 0 });
    // a busy slot still lends its prefix
    slots[0].inUse = true;
    expect(findBestCacheSlot(slots, [1, 2, 3, 4])).toEqual({ slot: 1, numPast: 3, forkFrom: 0 });
  });

  it('keeps an unrelated prompt off the other conversations: it goes to the LRU slot', () => {
    const slots = [slot(0, [1, 2], { lastUsed: 1 }), slot(1, [], { lastUsed: 0 })];
    expect(findBestCacheSlot(slots, [9, 9])).toEqual({ slot: 1, numPast: 0 });
  });
});

describe('findHostEntry (llama.cpp server_prompt_cache::load)', () => {
  it('restores the entry that beats the slot on both kept share and prompt share', () => {
    const prompt = [...seq(100, 50), 1, 2];
    const entries = [seq(200, 10), [...seq(100, 30), 5, 5], seq(100, 50)];
    expect(findHostEntry(entries, seq(300, 20), prompt)).toEqual({ index: 2, lcp: 50 });
    // better on one share only is not enough: the first entry that was better on both stays chosen
    expect(findHostEntry([seq(100, 60), [...seq(100, 45), 7, 7]], [], prompt)).toEqual({ index: 0, lcp: 50 });
  });

  it('never restores an entry of which less than a quarter would be kept', () => {
    const prompt = [...seq(100, 10), 0];
    const entries = [seq(100, 50)]; // 10 of 50 kept
    expect(findHostEntry(entries, [], prompt)).toBeNull();
  });

  it('needs a better prompt share than the slot already has', () => {
    const prompt = seq(100, 30);
    const slotTokens = [...seq(100, 10), ...seq(900, 10)]; // keeps 10 of 20
    expect(findHostEntry([[...seq(100, 8), 1]], slotTokens, prompt)).toBeNull();
    expect(findHostEntry([seq(100, 28)], slotTokens, prompt)).toEqual({ index: 0, lcp: 28 });
    expect(findHostEntry([seq(100, 28)], seq(100, 25), prompt)).toBeNull(); // a slot kept whole cannot be beaten
  });
});

describe('saveHostEntry (llama.cpp server_prompt_cache::alloc)', () => {
  it('drops entries the new one contains, skips one already contained, evicts the oldest beyond capacity', () => {
    const entries: number[][] = [seq(1, 5), seq(50, 3)];
    expect(saveHostEntry(entries, seq(1, 8), 3)).toBe(true);
    expect(entries).toEqual([seq(50, 3), seq(1, 8)]);
    expect(saveHostEntry(entries, seq(1, 4), 3)).toBe(false);
    saveHostEntry(entries, seq(70, 2), 3);
    saveHostEntry(entries, seq(80, 2), 3);
    expect(entries).toEqual([seq(1, 8), seq(70, 2), seq(80, 2)]);
    expect(saveHostEntry(entries, seq(90, 2), 0)).toBe(false);
  });
});

describe('PromptCache', () => {
  it('evaluates only the uncached rest, and at least the last token of a fully cached prompt', () => {
    const cache = new PromptCache({ slots: 1, hostEntries: 0, multiUser: false });
    const first = cache.acquire('m', seq(1, 10));
    expect(first).toMatchObject({ promptTokens: 10, cachedTokens: 0, evaluatedTokens: 10 });
    cache.prefilled(first);
    cache.release(first, seq(1, 15)); // prompt + answer
    const second = cache.acquire('m', seq(1, 20));
    expect(second).toMatchObject({ cachedTokens: 15, evaluatedTokens: 5 });
    cache.release(second, null); // cut short before its prefill ended: only the reused part stays
    const again = cache.acquire('m', seq(1, 15));
    expect(again).toMatchObject({ cachedTokens: 14, evaluatedTokens: 1 });
    cache.release(again, seq(1, 15));
    expect(cache.stats()).toEqual({ requests: 3, promptTokens: 45, cachedTokens: 29, restoredTokens: 0, hits: 2, hostSaves: 0, hostRestores: 0 });
  });

  it('saves a slot it is about to reuse to host RAM and restores it when that conversation returns', () => {
    const cache = new PromptCache({ slots: 1, hostEntries: 8, multiUser: false });
    const a = seq(1000, 40);
    const b = seq(2000, 40);
    cache.release(cache.acquire('m', a), [...a, 1, 2]);
    const bLease = cache.acquire('m', b); // A is saved before B overwrites the slot
    expect(bLease.cachedTokens).toBe(0);
    cache.release(bLease, [...b, 3]);
    const a2 = cache.acquire('m', [...a, 1, 2, 4, 5]);
    expect(a2).toMatchObject({ cachedTokens: 42, restoredTokens: 42, copiedTokens: 42, evaluatedTokens: 2 });
    cache.release(a2, null);
    expect(cache.stats()).toMatchObject({ hostSaves: 2, hostRestores: 1, restoredTokens: 42 });
    expect(cache.snapshot().models).toEqual([{ model: 'm', slots: [{ id: 0, tokens: 42, inUse: false }], host: [41] }]);
  });

  it('without host RAM, the second conversation evicts the first', () => {
    const cache = new PromptCache({ slots: 1, hostEntries: 0, multiUser: false });
    const a = seq(1000, 40);
    cache.release(cache.acquire('m', a), a);
    cache.release(cache.acquire('m', seq(2000, 40)), seq(2000, 40));
    expect(cache.acquire('m', [...a, 1]).cachedTokens).toBe(0);
  });

  it('keeps one cache per model and forgets a model that is cleared', () => {
    const cache = new PromptCache({ slots: 2, hostEntries: 4, multiUser: false });
    cache.release(cache.acquire('m', seq(1, 10)), seq(1, 10));
    expect(cache.acquire('other', seq(1, 11)).cachedTokens).toBe(0);
    cache.clearModel('m');
    expect(cache.acquire('m', seq(1, 11)).cachedTokens).toBe(0);
    expect(cache.snapshot().models.map((m) => m.model)).toEqual(['other', 'm']);
  });
});

describe('node options', () => {
  it('validates the cache options', () => {
    expect(validateNodeOptions({ name: 'n', models: [], promptCacheEntries: 8, promptCacheRestoreTps: 1e5, multiUserCache: true, reportCachedTokens: false }, 'n')).toEqual([]);
    expect(validateNodeOptions({ name: 'n', models: [], promptCacheEntries: -1, multiUserCache: 'yes' }, 'n')).toEqual([
      'n.promptCacheEntries: must be an integer >= 0 (got -1)',
      'n.multiUserCache: must be true or false (got "yes")',
    ]);
    expect(resolveNodeOptions({ name: 'n', models: [] })).toMatchObject({ promptCacheEntries: 0, promptCacheRestoreTps: 50_000, multiUserCache: false, reportCachedTokens: false });
  });
});
