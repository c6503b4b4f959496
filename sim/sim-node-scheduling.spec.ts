import { BUSY_MESSAGE, startSimNode, type SimNode, type SimNodeOptions } from './index';
import { postJson, readNdjson, waitFor } from './sim-client';

/** Slots, FIFO queue, busy, cancellation, parallel slowdown, model loading and eviction. */

const nodes: SimNode[] = [];

async function node(opts: Partial<SimNodeOptions>): Promise<SimNode> {
  const n = await startSimNode({ name: 'sched', models: [{ name: 'llama3' }], resident: ['llama3'], ...opts });
  nodes.push(n);
  return n;
}

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
});

type Final = Record<string, number | string | boolean>;

async function generate(n: SimNode, body: Record<string, unknown>, signal?: AbortSignal): Promise<Final> {
  const res = await postJson(`${n.url}/api/generate`, { model: 'llama3', stream: false, ...body }, { signal });
  if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
  return (await res.json()) as Final;
}

const rate = (f: Final): number => ((f.eval_count as number) / (f.eval_duration as number)) * 1e9;

describe('slots and queue', () => {
  it('with one slot, two concurrent requests never overlap and the second waits for the first', async () => {
    const n = await node({ slots: 1, decodeTps: 100, timeScale: 0.1 }); // 1 ms per token
    const [a, b] = await Promise.all([
      generate(n, { prompt: 'first', options: { num_predict: 30 } }),
      generate(n, { prompt: 'second', options: { num_predict: 30 } }),
    ]);
    expect(a.eval_count).toBe(30);
    expect(b.eval_count).toBe(30);
    const [first, second] = [...n.log].sort((x, y) => (x.startedAt ?? 0) - (y.startedAt ?? 0));
    expect(second.startedAt ?? 0).toBeGreaterThanOrEqual(first.endedAt ?? Infinity);
    expect((second.startedAt ?? 0) - second.receivedAt).toBeGreaterThan(20); // it queued behind ~30 ms of decoding
    expect(first.activeAtStart).toBe(1);
    expect(second.activeAtStart).toBe(1);
    expect(n.maxActiveSeen()).toBe(1);
    // the waiting time shows in total_duration of the second
    expect(Math.max(a.total_duration as number, b.total_duration as number)).toBeGreaterThan(50e6);
  });

  it('reports active and queued requests', async () => {
    const n = await node({ slots: 2, decodeTps: 30, timeScale: 0.05 });
    const ac = new AbortController();
    const running = [1, 2, 3].map((i) => generate(n, { prompt: `long ${i}`, options: { num_predict: 1000 } }, ac.signal).catch(() => null));
    await waitFor(() => n.active() === 2 && n.queued() === 1, 2000, 'two active, one queued');
    const state = (await (await fetch(`${n.url}/_sim/state`)).json()) as Record<string, unknown>;
    expect(state).toMatchObject({ name: 'sched', active: 2, queued: 1, maxActiveSeen: 2, resident: ['llama3:latest'], models: ['llama3:latest'], fault: null });
    ac.abort();
    await Promise.all(running);
    await waitFor(() => n.active() === 0 && n.queued() === 0, 2000, 'idle');
  });

  it('answers 503 busy with the exact message once maxQueue requests wait', async () => {
    const n = await node({ slots: 1, maxQueue: 1, decodeTps: 30, timeScale: 0.05 });
    const ac = new AbortController();
    const a = generate(n, { prompt: 'a', options: { num_predict: 1000 } }, ac.signal).catch(() => null);
    const b = generate(n, { prompt: 'b', options: { num_predict: 1000 } }, ac.signal).catch(() => null);
    await waitFor(() => n.active() === 1 && n.queued() === 1, 2000, 'full queue');
    const started = performance.now();
    const res = await postJson(`${n.url}/api/chat`, { model: 'llama3', messages: [{ role: 'user', content: 'c' }] });
    expect(performance.now() - started).toBeLessThan(500);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual({ error: BUSY_MESSAGE });
    expect(n.log.find((e) => e.route === '/api/chat')?.outcome).toBe('busy');
    ac.abort();
    await Promise.all([a, b]);
  });

  it('a client abort frees the slot at once and is logged as canceled', async () => {
    const n = await node({ slots: 1, decodeTps: 30, timeScale: 0.05 });
    const ac = new AbortController();
    const res = await postJson(`${n.url}/api/generate`, { model: 'llama3', prompt: 'long story', options: { num_predict: 5000 } }, { signal: ac.signal });
    const reader = res.body?.getReader();
    const first = await reader?.read();
    expect(first?.done).toBe(false);
    ac.abort();
    await reader?.cancel().catch(() => undefined);
    await waitFor(() => n.active() === 0, 1000, 'slot freed');
    const next = await generate(n, { prompt: 'short', options: { num_predict: 2 } });
    expect(next.eval_count).toBe(2);
    const [canceled, after] = n.log;
    expect(canceled.outcome).toBe('canceled');
    expect(canceled.evalCount).toBeGreaterThan(0);
    expect(canceled.evalCount).toBeLessThan(5000);
    expect(after.outcome).toBe('ok');
    expect((after.startedAt ?? 0) - after.receivedAt).toBeLessThan(50);
  });

  it('a request aborted while queued leaves the queue without ever starting', async () => {
    const n = await node({ slots: 1, decodeTps: 30, timeScale: 0.05 });
    const holder = new AbortController();
    const waiter = new AbortController();
    const a = generate(n, { prompt: 'a', options: { num_predict: 1000 } }, holder.signal).catch(() => null);
    const b = generate(n, { prompt: 'b', options: { num_predict: 1000 } }, waiter.signal).catch(() => null);
    await waitFor(() => n.queued() === 1, 2000, 'queued');
    waiter.abort();
    await waitFor(() => n.queued() === 0, 1000, 'queue emptied');
    await b;
    const entry = n.log.find((e) => e.id === 2);
    expect(entry?.outcome).toBe('canceled');
    expect(entry?.startedAt).toBeUndefined();
    holder.abort();
    await a;
  });
});

describe('timing model', () => {
  it('decodes at decodeTps / timeScale and measures eval_duration from real time', async () => {
    const n = await node({ slots: 1, decodeTps: 50, timeScale: 0.1 }); // 500 tok/s observed
    const result = await generate(n, { prompt: 'speed', options: { num_predict: 60 } });
    expect(rate(result)).toBeGreaterThan(500 * 0.6);
    expect(rate(result)).toBeLessThan(500 * 1.15);
  });

  it('slows every stream down when several run at once', async () => {
    const n = await node({ slots: 2, decodeTps: 50, parallelSlowdown: 1, timeScale: 0.1 });
    const alone = await generate(n, { prompt: 'alone', options: { num_predict: 50 } });
    const [x, y] = await Promise.all([
      generate(n, { prompt: 'together 1', options: { num_predict: 50 } }),
      generate(n, { prompt: 'together 2', options: { num_predict: 50 } }),
    ]);
    // per-stream rate = 50 / (1 + 1 * (2 - 1)) = half of alone
    for (const together of [x, y]) {
      expect(rate(together)).toBeLessThan(rate(alone) * 0.75);
      expect(rate(together)).toBeGreaterThan(rate(alone) * 0.3);
    }
    const entries = n.log.filter((e) => e.promptTokens > 0);
    expect(Math.max(...entries.map((e) => e.activeAtStart))).toBe(2);
  });

  it('pays prefill before the first token: promptTokens / prefillTps', async () => {
    const n = await node({ slots: 1, prefillTps: 100, timeScale: 0.5 });
    const prompt = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' '); // 52 tokens -> 0.52 s * 0.5
    const result = await generate(n, { prompt, options: { num_predict: 1 } });
    expect(result.prompt_eval_count).toBe(52);
    expect(result.prompt_eval_duration as number).toBeGreaterThan(230e6);
    expect(result.prompt_eval_duration as number).toBeLessThan(600e6);
  });
});

describe('model loading', () => {
  const ps = async (n: SimNode): Promise<string[]> =>
    ((await (await fetch(`${n.url}/api/ps`)).json()) as { models: Array<{ name: string }> }).models.map((m) => m.name).sort();

  it('pays loadMs only when cold, and evicts the least recently used idle model beyond maxLoadedModels', async () => {
    const n = await node({
      models: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
      resident: ['a'],
      maxLoadedModels: 2,
      loadMs: 1000,
      timeScale: 0.05, // 50 ms per load
    });
    const warmA = await generate(n, { model: 'a', prompt: 'x', options: { num_predict: 1 } });
    expect(warmA.load_duration).toBe(0);
    const coldB = await generate(n, { model: 'b', prompt: 'x', options: { num_predict: 1 } });
    expect(coldB.load_duration as number).toBeGreaterThan(40e6);
    expect(coldB.load_duration as number).toBeLessThan(400e6);
    const warmB = await generate(n, { model: 'b', prompt: 'y', options: { num_predict: 1 } });
    expect(warmB.load_duration).toBe(0);
    expect(await ps(n)).toEqual(['a:latest', 'b:latest']);
    const coldC = await generate(n, { model: 'c', prompt: 'x', options: { num_predict: 1 } });
    expect(coldC.load_duration as number).toBeGreaterThan(40e6);
    expect(await ps(n)).toEqual(['b:latest', 'c:latest']); // a was used least recently
    const coldA = await generate(n, { model: 'a', prompt: 'x', options: { num_predict: 1 } });
    expect(coldA.load_duration as number).toBeGreaterThan(40e6);
    expect(await ps(n)).toEqual(['a:latest', 'c:latest']);
  });

  it('shares one load between concurrent requests for the same cold model', async () => {
    const n = await node({ models: [{ name: 'a' }, { name: 'b' }], resident: ['a'], slots: 2, loadMs: 2000, timeScale: 0.05 });
    const started = performance.now();
    const [x, y] = await Promise.all([
      generate(n, { model: 'b', prompt: 'one', options: { num_predict: 1 } }),
      generate(n, { model: 'b', prompt: 'two', options: { num_predict: 1 } }),
    ]);
    const elapsed = performance.now() - started;
    expect(x.load_duration as number).toBeGreaterThan(80e6);
    expect(y.load_duration as number).toBeGreaterThan(80e6);
    expect(elapsed).toBeLessThan(180); // one 100 ms load, not two in a row
  });

  it('does not evict a model that is in use', async () => {
    const n = await node({ models: [{ name: 'a' }, { name: 'b' }], resident: ['a'], slots: 2, maxLoadedModels: 1, loadMs: 100, timeScale: 0.1 });
    const ac = new AbortController();
    const res = await postJson(`${n.url}/api/generate`, { model: 'a', prompt: 'busy', options: { num_predict: 5000 } }, { signal: ac.signal });
    const reader = res.body?.getReader();
    await reader?.read();
    await generate(n, { model: 'b', prompt: 'x', options: { num_predict: 1 } });
    expect(await ps(n)).toContain('a:latest'); // 'a' streams, so 'b' loaded over the limit
    ac.abort();
    await reader?.cancel().catch(() => undefined);
    await waitFor(() => n.active() === 0, 1000, 'idle');
  });
});

describe('instant mode', () => {
  it('timeScale 0 answers many concurrent requests quickly and completely', async () => {
    const n = await node({ slots: 4, timeScale: 0, loadMs: 5000 });
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await postJson(`${n.url}/api/generate`, { model: 'llama3', prompt: `q${i}` });
        const lines = await readNdjson(res);
        return { final: lines[lines.length - 1], tokenLines: lines.length - 1 };
      }),
    );
    for (const { final, tokenLines } of results) {
      expect(final.done).toBe(true);
      expect(final.eval_count).toBe(tokenLines);
      expect(tokenLines).toBeGreaterThan(0);
    }
    expect(performance.now() - started).toBeLessThan(3000);
    expect(n.maxActiveSeen()).toBeLessThanOrEqual(4);
  });
});
