import { DEFAULT_OUTPUT_TOKENS, MAX_EXPECTED_OUTPUT_TOKENS, estimatePromptTokens, expectedOutputTokens, learnPromptCorrection } from './estimate-request';

describe('estimatePromptTokens', () => {
  it.each([
    ['', 1, 0],
    ['abcd', 1, 1],
    ['abcde', 1, 2],
    ['x'.repeat(400), 1, 100],
    ['x'.repeat(400), 1.5, 150],
    ['x'.repeat(400), undefined, 100],
    ['x'.repeat(400), 1.1, 110],
    ['x'.repeat(10), 0.5, 2],
  ])('%#: %p chars with correction %p -> %p tokens', (text, correction, expected) => {
    expect(estimatePromptTokens(text, correction)).toBe(expected);
  });
});

describe('learnPromptCorrection', () => {
  it('starts at the first ratio and moves towards later ones', () => {
    const first = learnPromptCorrection(undefined, 100, 150);
    expect(first).toBe(1.5);
    expect(learnPromptCorrection(first, 100, 50, 0.5)).toBe(1);
  });

  it('converges to the true ratio', () => {
    let c: number | undefined;
    for (let i = 0; i < 200; i++) c = learnPromptCorrection(c, 200 + i, Math.round((200 + i) * 1.3));
    expect(c).toBeCloseTo(1.3, 2);
  });

  it.each([
    ['a tiny prompt', 4, 40],
    ['a fully cached prompt', 100, 0],
    ['a bad estimate', 0, 10],
  ])('ignores %s', (_label, estimated, reported) => {
    expect(learnPromptCorrection(1.2, estimated, reported)).toBe(1.2);
    expect(learnPromptCorrection(undefined, estimated, reported)).toBe(1);
  });

  it('clamps absurd ratios', () => {
    expect(learnPromptCorrection(undefined, 100, 100_000)).toBe(4);
    expect(learnPromptCorrection(undefined, 100, 1)).toBe(0.25);
  });
});

describe('expectedOutputTokens', () => {
  it.each<[number | undefined, number | undefined, number]>([
    [undefined, undefined, DEFAULT_OUTPUT_TOKENS],
    [undefined, 180.4, 180],
    [64, undefined, 64],
    [64, 300, 64],
    [2048, 300, 300],
    [-1, 300, 300],
    [-2, undefined, DEFAULT_OUTPUT_TOKENS],
    [0, undefined, DEFAULT_OUTPUT_TOKENS],
    [undefined, 0, DEFAULT_OUTPUT_TOKENS],
    [undefined, 0.2, 1],
    [1e300, undefined, MAX_EXPECTED_OUTPUT_TOKENS],
    [Number.MAX_SAFE_INTEGER + 2, 1e12, MAX_EXPECTED_OUTPUT_TOKENS],
  ])('num_predict %p, recent mean %p -> %p', (numPredict, mean, expected) => {
    expect(expectedOutputTokens(numPredict, mean)).toBe(expected);
  });
});
