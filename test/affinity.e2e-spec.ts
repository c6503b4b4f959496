import { startSimNode, type SimNode } from '../sim';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, post, startTestHerd, waitFor, type Reply } from './support/herd';
import { startRedis, uniquePrefix } from './support/redis';

/**
 * Issue #14: conversation affinity. Node `fast` decodes five times as fast as `warm`, so with both idle ECT sends a
 * fresh request to `fast`. A conversation whose first turn ran on `warm` (while `fast` was busy) has its long
 * system prompt cached there: its next turns go back to `warm`, where only the new tokens are evaluated, unless
 * `warm` is busy for longer than the saving is worth. Turns sent through another replica see the same tracking.
 */
jest.setTimeout(90_000);

const SYSTEM = Array.from({ length: 1200 }, (_, i) => `rule${i % 97} applies`).join(' ');

interface Message {
  role: string;
  content: string;
}

let redis: EmbeddedRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

function chat(url: string, messages: Message[], numPredict = 40): Promise<Reply> {
  return post(`${url}/api/chat`, { model: 'llama3', messages, stream: false, options: { num_predict: numPredict } });
}

function answerOf(reply: Reply): Message {
  return reply.body.message as Message;
}

describe('conversation affinity', () => {
  let warm: SimNode;
  let fast: SimNode;
  beforeEach(async () => {
    const common = { models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], prefillTps: 500, reportCachedTokens: true };
    // Only `warm` has `other`: a long request for it makes `warm` busy whatever ECT thinks of `fast`.
    warm = await startSimNode({ name: 'warm', decodeTps: 30, ...common, models: [...common.models, { name: 'other:latest' }], resident: ['llama3:latest', 'other:latest'] });
    fast = await startSimNode({ name: 'fast', decodeTps: 150, ...common });
  });
  afterEach(async () => {
    await warm.close();
    await fast.close();
  });

  async function herds(affinity: boolean) {
    const shared = {
      redisUrl: redis.url,
      redisPrefix: uniquePrefix('affinity'),
      affinity,
      nodes: [nodeConfig('warm', warm.url, { tokensPerSecond: 30 }), nodeConfig('fast', fast.url, { tokensPerSecond: 150 })],
    };
    return [await startTestHerd(shared), await startTestHerd(shared)] as const;
  }

  /** Turn 1 lands on `warm` because `fast` is busy with a long unrelated request meanwhile. */
  async function firstTurnOnWarm(url: string): Promise<Message[]> {
    // A long prompt of its own, so `fast` learns its real prefill rate (a few tokens teach a noisy one).
    const busy = chat(url, [{ role: 'user', content: `keep the fast node busy ${SYSTEM.slice(0, 3000)}` }], 300);
    await waitFor(() => fast.active() === 1, 5000, 'the fast node to be busy');
    const messages: Message[] = [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: 'first question' },
    ];
    const turn1 = await chat(url, messages);
    expect(turn1.status).toBe(200);
    expect(turn1.headers.get('x-herd-node')).toBe('warm');
    expect((await busy).status).toBe(200);
    return [...messages, answerOf(turn1)];
  }

  it('sends the next turns back to the node holding the prompt, which evaluates only the new tokens; a second replica knows it too', async () => {
    const [one, two] = await herds(true);
    try {
      let messages = await firstTurnOnWarm(one.url);
      for (const [i, replica] of [one, two].entries()) {
        messages = [...messages, { role: 'user', content: `follow-up number ${i + 2}` }];
        const turn = await chat(replica.url, messages);
        expect(turn.status).toBe(200);
        expect(turn.headers.get('x-herd-node')).toBe('warm');
        const expected = Number(turn.headers.get('x-herd-cached-tokens'));
        expect(expected).toBeGreaterThan(1000);
        // The node evaluated only what was new: the prompt less what it had cached.
        const total = turn.body.prompt_eval_count as number;
        const cached = turn.body.prompt_eval_cached_count as number;
        expect(cached).toBeGreaterThan(total - 40);
        expect(total - cached).toBeLessThan(40);
        messages = [...messages, answerOf(turn)];
      }
    } finally {
      await two.close(0);
      await one.close(0);
    }
  });

  it('sends a turn elsewhere when the warm node is busy for longer than the saving is worth', async () => {
    const [one, two] = await herds(true);
    try {
      const history = await firstTurnOnWarm(one.url);
      // `warm` is now busy for ~17 s (500 tokens at 30 tok/s); re-evaluating the prompt on `fast` takes ~3 s.
      const long = post(`${two.url}/api/generate`, { model: 'other', prompt: 'a long unrelated answer', stream: false, options: { num_predict: 500 } });
      await waitFor(() => warm.active() === 1, 5000, 'the long request to start on warm');
      const turn = await chat(one.url, [...history, { role: 'user', content: 'urgent follow-up' }]);
      expect(turn.status).toBe(200);
      expect(turn.headers.get('x-herd-node')).toBe('fast');
      expect(turn.headers.get('x-herd-cached-tokens')).toBeNull();
      expect((await long).status).toBe(200);
    } finally {
      await two.close(0);
      await one.close(0);
    }
  });

  it('lets others take the free node while a turn waits for its warm node', async () => {
    const [one, two] = await herds(true);
    try {
      const history = await firstTurnOnWarm(one.url);
      // `warm` is busy for ~2 s: less than re-evaluating the prompt on `fast` is worth, so the turn waits for it.
      const short = post(`${two.url}/api/generate`, { model: 'other', prompt: 'a short unrelated answer', stream: false, options: { num_predict: 60 } });
      await waitFor(() => warm.active() === 1, 5000, 'the short request to start on warm');
      const turn = chat(one.url, [...history, { role: 'user', content: 'patient follow-up' }]);
      await new Promise((r) => setTimeout(r, 300));
      // The waiting turn claims no slot on `fast`: a request that arrives meanwhile starts there at once.
      const other = await chat(two.url, [{ role: 'user', content: 'an unrelated short question' }], 20);
      expect(other.status).toBe(200);
      expect(other.headers.get('x-herd-node')).toBe('fast');
      expect(Number(other.headers.get('x-herd-queue-ms') ?? 0)).toBeLessThan(800);
      const waited = await turn;
      expect(waited.status).toBe(200);
      expect(waited.headers.get('x-herd-node')).toBe('warm');
      expect(waited.body.prompt_eval_cached_count as number).toBeGreaterThan(1000);
      expect((await short).status).toBe(200);
    } finally {
      await two.close(0);
      await one.close(0);
    }
  });

  it('without affinity, sends the next turn to the faster idle node and pays the whole prompt again', async () => {
    const [one, two] = await herds(false);
    try {
      const history = await firstTurnOnWarm(one.url);
      const turn = await chat(one.url, [...history, { role: 'user', content: 'second question' }]);
      expect(turn.status).toBe(200);
      expect(turn.headers.get('x-herd-node')).toBe('fast');
      expect(turn.body.prompt_eval_cached_count ?? 0).toBeLessThan(10);
    } finally {
      await two.close(0);
      await one.close(0);
    }
  });
});
