import { countChatTokens, countTokens } from '../../sim/token-text';
import { conversationTurnTokens } from './conversation-tokens';
import {
  conversationsLoad,
  estimatedPromptTokens,
  filler,
  makeConversations,
  offeredWork,
  offeredWorkFullyCached,
  turnMessages,
  type ConversationOptions,
} from './conversations';
import { mulberry32 } from './prng';

const base: ConversationOptions = { seed: 1, capacity: { decodeTps: 132, prefillTps: 4500 } };

describe('makeConversations', () => {
  it('is deterministic per seed', () => {
    expect(makeConversations(base)).toEqual(makeConversations(base));
    expect(makeConversations({ ...base, seed: 2 })).not.toEqual(makeConversations(base));
  });

  it('has the issue shape by default: 24 conversations, 6 turns, 1,500-token system prompts, about 100 tokens a turn', () => {
    const convs = makeConversations(base);
    expect(convs).toHaveLength(24);
    for (const c of convs) {
      expect(c.turns).toHaveLength(6);
      expect(countTokens(c.system)).toBeGreaterThanOrEqual(1500);
      expect(countTokens(c.system)).toBeLessThanOrEqual(1502);
      expect(c.turns[0].thinkMs).toBe(0);
      for (const t of c.turns.slice(1)) expect(t.thinkMs).toBeGreaterThanOrEqual(5000);
      const prompts = estimatedPromptTokens(c);
      const perTurn = (prompts[5] - prompts[0]) / 5;
      expect(perTurn).toBeGreaterThan(80);
      expect(perTurn).toBeLessThan(120);
    }
  });

  it('gives every conversation a system prompt and user messages of its own, from the first token on', () => {
    const convs = [...makeConversations(base), ...makeConversations({ ...base, seed: 2 })];
    expect(new Set(convs.map((c) => c.system.split(' ')[0])).size).toBe(convs.length);
    expect(new Set(convs.flatMap((c) => c.turns.map((t) => t.user.split(' ')[0]))).size).toBe(convs.length * 6);
  });

  it.each([0.5, 0.7, 1])('offers the requested load %p with every follow-up fully cached, more when nothing is', (load) => {
    const convs = makeConversations({ ...base, load });
    expect(conversationsLoad(convs, base.capacity, true)).toBeCloseTo(load, 9);
    expect(conversationsLoad(convs, base.capacity, false)).toBeGreaterThan(load * 1.3);
  });

  it.each([0.5, 0.7])('offers the requested load %p with every prompt token prefilled on the cold basis', (load) => {
    const convs = makeConversations({ ...base, load, loadBasis: 'cold' });
    expect(conversationsLoad(convs, base.capacity, false)).toBeCloseTo(load, 9);
    expect(conversationsLoad(convs, base.capacity, true)).toBeLessThan(load * 0.8);
    expect(convs.map(({ startMs: _, ...c }) => c)).toEqual(makeConversations({ ...base, load }).map(({ startMs: _, ...c }) => c));
  });

  it('keeps the same conversations at another load, only the start times change', () => {
    const calm = makeConversations({ ...base, load: 0.35 });
    const busy = makeConversations({ ...base, load: 0.7 });
    expect(busy.map(({ startMs: _, ...c }) => c)).toEqual(calm.map(({ startMs: _, ...c }) => c));
    expect(busy[23].startMs).toBeCloseTo(calm[23].startMs / 2, 6);
    expect(busy.every((c, i) => i === 0 || c.startMs >= busy[i - 1].startMs)).toBe(true);
  });

  it('rejects bad options', () => {
    expect(() => makeConversations({ ...base, count: 0 })).toThrow(/count/);
    expect(() => makeConversations({ ...base, answerTokens: [10, 5] })).toThrow(/answerTokens/);
    expect(() => makeConversations({ ...base, capacity: { decodeTps: 0, prefillTps: 1 } })).toThrow(/capacity/);
    expect(() => makeConversations({ ...base, loadBasis: 'warm' as 'cold' })).toThrow(/loadBasis/);
  });
});

describe('filler', () => {
  it('reaches the simulator token count it is asked for', () => {
    for (const n of [1, 28, 300, 1500]) {
      const text = filler(mulberry32(n), 'Head-1:', n);
      expect(countTokens(text)).toBeGreaterThanOrEqual(n);
      expect(countTokens(text)).toBeLessThanOrEqual(n + 3);
    }
  });
});

describe('offered work', () => {
  const c = { system: 'a b c d e f g h i j', turns: [{ user: 'x y', numPredict: 10, thinkMs: 0 }, { user: 'z w', numPredict: 20, thinkMs: 1000 }] };
  it('estimates each turn prompt as the previous one plus the answer and the new message', () => {
    // 13 + 4 system, 3 + 4 user; then the 10-token answer back as 13 + 4, 3 + 4 user
    expect(estimatedPromptTokens(c)).toEqual([24, 48]);
  });
  it('counts every prompt token as prefilled, or only the new ones when cached', () => {
    const rates = { decodeTps: 10, prefillTps: 100 };
    expect(offeredWork(c, rates)).toBeCloseTo(1 + 0.24 + 2 + 0.48, 9);
    expect(offeredWorkFullyCached(c, rates)).toBeCloseTo(1 + 0.24 + 2 + 0.24, 9);
  });
});

describe('turnMessages', () => {
  const c = makeConversations({ ...base, count: 1, turns: 3 })[0];
  it('carries the system prompt, every earlier turn with its actual answer, then the new user message', () => {
    expect(turnMessages(c, 0, [])).toEqual([
      { role: 'system', content: c.system },
      { role: 'user', content: c.turns[0].user },
    ]);
    expect(turnMessages(c, 2, ['one', 'two']).map((m) => `${m.role}:${m.content === c.system ? 'S' : m.content}`)).toEqual([
      'system:S',
      `user:${c.turns[0].user}`,
      'assistant:one',
      `user:${c.turns[1].user}`,
      'assistant:two',
      `user:${c.turns[2].user}`,
    ]);
    expect(() => turnMessages(c, 2, ['one'])).toThrow(/answers/);
  });
});

describe('conversationTurnTokens', () => {
  const c = makeConversations({ ...base, count: 1, turns: 3 })[0];
  const answers = ['The answer is short, but fine.', 'Another answer.', 'Last.'];
  it('counts prompt tokens as the simulator does and lets a follow-up reuse the previous prompt and answer', () => {
    const turns = conversationTurnTokens(c, answers);
    expect(turns).toHaveLength(3);
    turns.forEach((t, k) => expect(t.promptTokens).toBe(countChatTokens(turnMessages(c, k, answers).map((m) => m.content))));
    expect(turns[0].maxCachedTokens).toBe(0);
    // the previous prompt, the assistant role marker and the answer's words: all but the end of turn and the new message
    expect(turns[1].maxCachedTokens).toBe(turns[0].promptTokens + 1 + countTokens(answers[0]));
    expect(turns[2].maxCachedTokens).toBe(turns[1].promptTokens + 1 + countTokens(answers[1]));
  });
  it('stops at the last answered turn', () => {
    expect(conversationTurnTokens(c, answers.slice(0, 1))).toHaveLength(1);
  });
});
