import { conversationOf, expectedCachedTokens, messageParts, prefixChain, promptParts, PROMPT_BLOCK_CHARS } from './prefix-chain';

const words = (text: string): number => text.split(/\s+/).filter(Boolean).length;

describe('prefixChain', () => {
  const turn1 = [
    { role: 'system', content: 'you are terse' },
    { role: 'user', content: 'what is a herd' },
  ];
  const turn2 = [...turn1, { role: 'assistant', content: 'many animals' }, { role: 'user', content: 'and a gateway' }];

  it('shares the links of a repeated beginning, and only those', () => {
    const a = prefixChain('llama3:latest', messageParts(turn1), words);
    const b = prefixChain('llama3:latest', messageParts(turn2), words);
    expect(b.slice(0, 2)).toEqual(a);
    expect(b[2].hash).not.toBe(a[1].hash);
  });

  it('adds up the tokens of every part up to each link', () => {
    const chain = prefixChain('m', messageParts(turn2), words);
    expect(chain.map((l) => l.tokens)).toEqual([3, 7, 9, 12]);
  });

  it('depends on the model and on the order of the parts', () => {
    const parts = messageParts(turn1);
    expect(prefixChain('a', parts, words)[0].hash).not.toBe(prefixChain('b', parts, words)[0].hash);
    expect(prefixChain('a', [...parts].reverse(), words)[1].hash).not.toBe(prefixChain('a', parts, words)[1].hash);
  });

  it('cuts a raw prompt into blocks, after its system prompt', () => {
    const prompt = 'x'.repeat(PROMPT_BLOCK_CHARS * 2 + 10);
    const parts = promptParts(prompt, 'be brief');
    expect(parts.map((p) => p.length)).toEqual(['system\u0000be brief'.length, PROMPT_BLOCK_CHARS, PROMPT_BLOCK_CHARS, 10]);
    const longer = promptParts(prompt + ' and more', 'be brief');
    expect(prefixChain('m', longer, words).slice(0, 3)).toEqual(prefixChain('m', parts, words).slice(0, 3));
  });
});

describe('conversationOf', () => {
  const system = { role: 'system', content: 'you are terse' };
  const words = (text: string): number => text.length;

  it('names a conversation by its first message after the system prompt, the same in every turn', () => {
    const turn1 = [system, { role: 'user', content: 'what is a herd' }];
    const turn2 = [...turn1, { role: 'assistant', content: 'many animals' }, { role: 'user', content: 'and a gateway' }];
    const other = [system, { role: 'user', content: 'what is a flock' }];
    const c1 = conversationOf(prefixChain('m', messageParts(turn1), words));
    expect(c1).toBe(conversationOf(prefixChain('m', messageParts(turn2), words)));
    // Two conversations sharing a system prompt are still two.
    expect(c1).not.toBe(conversationOf(prefixChain('m', messageParts(other), words)));
  });

  it('uses the first message when there is no system prompt, or nothing after it', () => {
    const alone = prefixChain('m', messageParts([{ role: 'user', content: 'hi' }]), words);
    expect(conversationOf(alone)).toBe(alone[0].hash);
    const onlySystem = prefixChain('m', messageParts([system]), words);
    expect(conversationOf(onlySystem)).toBe(onlySystem[0].hash);
    expect(conversationOf([])).toBeUndefined();
  });

  it('names a raw prompt by its first block after the system prompt', () => {
    const chain = prefixChain('m', promptParts('x'.repeat(PROMPT_BLOCK_CHARS + 5), 'be brief'), words);
    expect(conversationOf(chain)).toBe(chain[1].hash);
  });
});

describe('expectedCachedTokens', () => {
  const chain = [
    { hash: 'a', tokens: 1500 },
    { hash: 'b', tokens: 1600 },
    { hash: 'c', tokens: 1700 },
  ];

  it('counts the longest link still warm', () => {
    expect(expectedCachedTokens(chain, [10, 10, null], 10, 1)).toBe(1600);
  });

  it('forgets a link once as many other requests as the node keeps landed since', () => {
    // One slot, no prompt cache: one request for another conversation evicts it.
    expect(expectedCachedTokens(chain, [10, 10, null], 11, 1)).toBe(0);
    // Two slots plus eight cached sequences keep it through nine others.
    expect(expectedCachedTokens(chain, [10, 10, null], 19, 10)).toBe(1600);
  });

  it('falls back to a shorter link served more recently', () => {
    // Another conversation with the same system prompt ran last.
    expect(expectedCachedTokens(chain, [12, 3, null], 12, 1)).toBe(1500);
  });

  it('is zero for a node that never served the prompt', () => {
    expect(expectedCachedTokens(chain, [null, null, null], 5, 4)).toBe(0);
  });
});
