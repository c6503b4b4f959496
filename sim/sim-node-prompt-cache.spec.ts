import { commonPrefixLength } from './prompt-cache';
import { countChatTokens, countTokens, rawPromptTokens, startSimNode, type PromptCacheSnapshot, type SimLogEntry, type SimNode, type SimNodeOptions } from './index';
import { postJson, type Json } from './sim-client';

/** The prompt cache over HTTP: slots keep their last sequence, host RAM keeps more, unloading forgets both. */

const PREFILL_TPS = 500;
const nodes: SimNode[] = [];

async function node(opts: Partial<SimNodeOptions> = {}): Promise<SimNode> {
  const n = await startSimNode({
    name: 'cache',
    models: [{ name: 'llama3' }, { name: 'qwen2.5:7b' }],
    resident: ['llama3'],
    prefillTps: PREFILL_TPS,
    decodeTps: 2000,
    loadMs: 50,
    timeScale: 1,
    ...opts,
  });
  nodes.push(n);
  return n;
}

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
});

const words = (tag: string, count: number): string => Array.from({ length: count }, (_, i) => `${tag}${i}`).join(' ');

interface Message {
  role: string;
  content: string;
}

interface Turn {
  body: Json;
  entry: SimLogEntry;
}

function lastEntry(n: SimNode): SimLogEntry {
  return n.log[n.log.length - 1];
}

async function chat(n: SimNode, messages: Message[], extra: Json = {}): Promise<Turn> {
  const res = await postJson(`${n.url}/api/chat`, { model: 'llama3', messages, stream: false, options: { num_predict: 12 }, ...extra });
  if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
  return { body: (await res.json()) as Json, entry: lastEntry(n) };
}

async function generate(n: SimNode, prompt: string, extra: Json = {}): Promise<Turn> {
  const res = await postJson(`${n.url}/api/generate`, { model: 'llama3', prompt, stream: false, options: { num_predict: 12 }, ...extra });
  if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
  return { body: (await res.json()) as Json, entry: lastEntry(n) };
}

const answerOf = (t: Turn): string => (t.body.message as { content: string }).content;
const ns = (t: Turn, field: string): number => t.body[field] as number;
/** Nanoseconds the simulator sleeps to evaluate `tokens` prompt tokens. */
const prefillNs = (tokens: number): number => (tokens / PREFILL_TPS) * 1e9;

/** A conversation: a long system prompt of its own, then short user turns answered by the node. */
class Conversation {
  readonly messages: Message[];

  constructor(tag: string) {
    this.messages = [{ role: 'system', content: words(tag, 100) }];
  }

  async turn(n: SimNode, user: string, extra: Json = {}): Promise<Turn> {
    this.messages.push({ role: 'user', content: user });
    const t = await chat(n, this.messages, extra);
    this.messages.push({ role: 'assistant', content: answerOf(t) });
    return t;
  }

  /** Tokens the slot holds after the last turn: every message but the answer's end of turn. */
  held(): number {
    const answer = this.messages[this.messages.length - 1].content;
    return countChatTokens(this.messages.slice(0, -1).map((m) => m.content)) + 1 + countTokens(answer);
  }
}

async function cacheState(n: SimNode): Promise<PromptCacheSnapshot> {
  return (await (await fetch(`${n.url}/_sim/cache`)).json()) as PromptCacheSnapshot;
}

describe('slot cache', () => {
  it('three turns of one conversation evaluate only their new tokens, in a shorter prompt_eval_duration', async () => {
    const n = await node();
    const c = new Conversation('sys');
    const t1 = await c.turn(n, 'Why is the sky blue?');
    expect(t1.body.prompt_eval_count).toBe(countChatTokens([c.messages[0].content, 'Why is the sky blue?']));
    expect(t1.entry.cachedTokens).toBe(0);
    expect(ns(t1, 'prompt_eval_duration')).toBeGreaterThanOrEqual(prefillNs(t1.body.prompt_eval_count as number) * 0.95);

    let held = c.held();
    for (const question of ['And at sunset, why red?', 'Does the same happen on Mars?']) {
      const t = await c.turn(n, question);
      // prompt_eval_count stays the whole prompt, as Ollama reports it; only the duration shrinks
      const all = countChatTokens(c.messages.slice(0, -1).map((m) => m.content));
      expect(t.body.prompt_eval_count).toBe(all);
      expect(t.body.prompt_eval_cached_count).toBeUndefined();
      expect(t.entry).toMatchObject({ promptTokens: all, cachedTokens: held });
      const evaluated = all - held;
      expect(evaluated).toBe(3 + 4 + countTokens(question)); // the answer's end of turn and the new message
      expect(ns(t, 'prompt_eval_duration')).toBeGreaterThanOrEqual(prefillNs(evaluated) * 0.95);
      expect(ns(t, 'prompt_eval_duration')).toBeLessThan(prefillNs(all) / 2); // a full prefill would take prefillNs(all)
      expect(ns(t, 'total_duration')).toBeGreaterThanOrEqual(ns(t, 'prompt_eval_duration') + ns(t, 'eval_duration'));
      held = c.held();
    }
  });

  it('re-evaluates the last token of a prompt it holds entirely', async () => {
    const n = await node();
    const prompt = words('same', 60);
    await generate(n, prompt);
    const again = await generate(n, prompt);
    expect(again.body.prompt_eval_count).toBe(countTokens(prompt));
    expect(again.entry.cachedTokens).toBe(countTokens(prompt) - 1);
  });

  it('with one slot and no host RAM, a second conversation evicts the first: full prefill again', async () => {
    const n = await node({ slots: 1 });
    const a = new Conversation('a');
    const b = new Conversation('b');
    await a.turn(n, 'first question of a');
    await b.turn(n, 'first question of b');
    const a2 = await a.turn(n, 'second question of a');
    expect(a2.entry.cachedTokens).toBe(1); // only the system role marker both conversations start with
    expect(ns(a2, 'prompt_eval_duration')).toBeGreaterThanOrEqual(prefillNs((a2.body.prompt_eval_count as number) - 1) * 0.95);
  });

  it('Ollama default: a new conversation overwrites the first idle slot; OLLAMA_MULTIUSER_CACHE keeps them apart', async () => {
    for (const multiUserCache of [false, true]) {
      const n = await node({ slots: 2, multiUserCache });
      const a = new Conversation('a');
      const b = new Conversation('b');
      await a.turn(n, 'hello from a');
      const heldA = a.held();
      await b.turn(n, 'hello from b');
      const a2 = await a.turn(n, 'more from a');
      expect(a2.entry.cachedTokens).toBe(multiUserCache ? heldA : 1);
    }
  });
});

describe('host-RAM cache (promptCacheEntries)', () => {
  it('saves the first conversation when the second takes its slot, and restores it for the next turn', async () => {
    const n = await node({ slots: 1, promptCacheEntries: 8 });
    const a = new Conversation('a');
    const b = new Conversation('b');
    await a.turn(n, 'first question of a');
    const heldA = a.held();
    await b.turn(n, 'first question of b');
    const heldB = b.held();
    const a2 = await a.turn(n, 'second question of a');
    expect(a2.entry.cachedTokens).toBe(heldA);
    // the copy back from host RAM costs heldA / 50000 s, far below re-evaluating heldA tokens
    expect(ns(a2, 'prompt_eval_duration')).toBeLessThan(prefillNs(heldA) / 2);
    const b2 = await b.turn(n, 'second question of b'); // b was saved when a took the slot back
    expect(b2.entry.cachedTokens).toBe(heldB);
    const state = await cacheState(n);
    // b's first turn shared only the system role marker with the slot
    expect(state.stats).toMatchObject({ requests: 4, hostRestores: 2, restoredTokens: heldA + heldB, cachedTokens: 1 + heldA + heldB });
    expect(state.models).toEqual([{ model: 'llama3:latest', slots: [{ id: 0, tokens: b.held(), inUse: false }], host: [a.held()] }]);
  });
});

describe('unloading clears both caches', () => {
  it('keep_alive 0 unloads the model and forgets its slots and host-RAM entries', async () => {
    const n = await node({ slots: 1, promptCacheEntries: 8 });
    const a = new Conversation('a');
    const b = new Conversation('b');
    await a.turn(n, 'question a');
    await b.turn(n, 'question b');
    expect((await cacheState(n)).models[0].host).toHaveLength(1);
    const unload = await postJson(`${n.url}/api/chat`, { model: 'llama3', messages: [], keep_alive: 0 });
    expect(((await unload.json()) as Json).done_reason).toBe('unload');
    expect((await cacheState(n)).models).toEqual([]);
    const a2 = await a.turn(n, 'question a again');
    expect(a2.entry.cachedTokens).toBe(0);
    expect(ns(a2, 'load_duration')).toBeGreaterThan(0);
  });

  it('keep-alive expiry and eviction for memory forget the cache too', async () => {
    const n = await node({ maxLoadedModels: 1 });
    const c = new Conversation('c');
    await c.turn(n, 'question', { keep_alive: '100ms' });
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect((await cacheState(n)).models).toEqual([]);
    expect((await c.turn(n, 'after expiry')).entry.cachedTokens).toBe(0);

    await c.turn(n, 'warm again');
    const other = await chat(n, [{ role: 'user', content: 'hi' }], { model: 'qwen2.5:7b' }); // evicts llama3
    expect(ns(other, 'load_duration')).toBeGreaterThan(0);
    expect((await c.turn(n, 'after eviction')).entry.cachedTokens).toBe(0);
  });
});

describe('raw prompts', () => {
  it('/api/generate and /v1/completions reuse a shared prefix', async () => {
    const n = await node();
    const prompt = words('doc', 120);
    const g1 = await generate(n, prompt);
    const first = rawPromptTokens('', prompt);
    const held = first.ids.length + first.answerIds(g1.body.response as string).length;

    const follow = `${prompt}\n${g1.body.response as string}\nSummarise that.`;
    const g2 = await generate(n, follow);
    expect(g2.body.prompt_eval_count).toBe(countTokens(follow));
    expect(g2.entry.cachedTokens).toBe(held);

    // another prompt with the same first half: the common token prefix is reused
    const half = `${words('doc', 60)} but then something else entirely`;
    const g3 = await generate(n, half);
    const common = commonPrefixLength(rawPromptTokens('', follow).ids, rawPromptTokens('', half).ids);
    expect(common).toBeGreaterThan(70);
    expect(g3.entry.cachedTokens).toBe(common);

    // /v1/completions runs the same model: it finds what /api/generate left in the slot
    const res = await postJson(`${n.url}/v1/completions`, { model: 'llama3', prompt: `${half} and more`, max_tokens: 4 });
    const body = (await res.json()) as { usage: Json };
    expect(body.usage.prompt_tokens).toBe(countTokens(`${half} and more`));
    expect(body.usage.prompt_tokens_details).toBeUndefined();
    expect(lastEntry(n).cachedTokens).toBe(rawPromptTokens('', half).ids.length);
  });
});

describe('reportCachedTokens', () => {
  it('adds prompt_eval_cached_count natively and usage.prompt_tokens_details.cached_tokens on /v1', async () => {
    const n = await node({ reportCachedTokens: true });
    const c = new Conversation('r');
    const t1 = await c.turn(n, 'first');
    expect(t1.body.prompt_eval_cached_count).toBe(0);
    const t2 = await c.turn(n, 'second');
    expect(t2.body.prompt_eval_cached_count).toBe(t2.entry.cachedTokens);
    expect(t2.entry.cachedTokens).toBeGreaterThan(100);

    const messages = [...c.messages, { role: 'user', content: 'third, over the OpenAI API' }];
    const res = await postJson(`${n.url}/v1/chat/completions`, { model: 'llama3', messages, max_tokens: 4 });
    const body = (await res.json()) as { usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } } };
    expect(body.usage.prompt_tokens).toBe(countChatTokens(messages.map((m) => m.content)));
    expect(body.usage.prompt_tokens_details.cached_tokens).toBe(c.held());
  });
});

describe('counters', () => {
  it('/_sim/state gives prompt and cached prompt tokens per node; resetLog clears them', async () => {
    const n = await node();
    const c = new Conversation('s');
    await c.turn(n, 'one');
    await c.turn(n, 'two');
    const state = (await (await fetch(`${n.url}/_sim/state`)).json()) as { promptCache: Json };
    const prompt = n.log.reduce((s, e) => s + e.promptTokens, 0);
    const cached = n.log.reduce((s, e) => s + e.cachedTokens, 0);
    expect(state.promptCache).toEqual({ requests: 2, promptTokens: prompt, cachedTokens: cached, restoredTokens: 0, hits: 1, hostSaves: 0, hostRestores: 0 });
    expect(n.promptCache().stats.cachedTokens / n.promptCache().stats.promptTokens).toBeCloseTo(cached / prompt);
    await fetch(`${n.url}/_sim/log`, { method: 'DELETE' });
    expect(n.promptCache().stats).toMatchObject({ requests: 0, promptTokens: 0, cachedTokens: 0 });
    expect(n.promptCache().models[0].slots[0].tokens).toBe(c.held()); // the cache itself stays
  });
});
