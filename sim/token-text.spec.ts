import { contextIds, countChatTokens, countTokens, TokenSource, VOCABULARY } from './token-text';

describe('countTokens', () => {
  it('counts about 1.3 tokens per word plus half a token per punctuation mark', () => {
    expect(countTokens('Why is the sky blue?')).toBe(Math.round(5 * 1.3 + 0.5)); // 7
    expect(countTokens('one two three four five six seven eight nine ten')).toBe(13);
    expect(countTokens('   ')).toBe(0);
    expect(countTokens('a')).toBe(1);
  });

  it('is deterministic and differs from the chars/4 estimate a gateway would make', () => {
    const text = 'Explain, in detail, how a load balancer spreads requests over many inference servers.';
    expect(countTokens(text)).toBe(countTokens(text));
    expect(countTokens(text)).not.toBe(Math.ceil(text.length / 4));
  });

  it('adds a per-message template overhead for chats, at least 1', () => {
    expect(countChatTokens(['hello there', 'how are you'])).toBe(countTokens('hello there') + countTokens('how are you') + 8);
    expect(countChatTokens([])).toBe(1);
  });
});

describe('TokenSource', () => {
  it('yields the same tokens for the same seed and different ones for another seed', () => {
    const a = new TokenSource(42).take(50);
    expect(new TokenSource(42).take(50)).toEqual(a);
    expect(new TokenSource(43).take(50)).not.toEqual(a);
    expect(a[0].startsWith(' ')).toBe(false);
    expect(a.slice(1).every((t) => t.startsWith(' ') || t === '.' || t === ',')).toBe(true);
  });

  it('only uses words that need no JSON escaping', () => {
    for (const word of VOCABULARY) expect(JSON.stringify(word)).toBe(`"${word}"`);
  });

  it('makes deterministic context ids of the requested length', () => {
    expect(contextIds(7, 5)).toEqual(contextIds(7, 5));
    expect(contextIds(7, 5)).toHaveLength(5);
    expect(contextIds(7, 5).every((id) => Number.isInteger(id) && id > 0)).toBe(true);
  });
});
