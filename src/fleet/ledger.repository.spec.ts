import { remainingTokens } from './ledger.repository';

describe('remainingTokens', () => {
  it('counts down evenly over the estimate', () => {
    expect(remainingTokens('200:1000:2000', 1000)).toBe(200);
    expect(remainingTokens('200:1000:2000', 2000)).toBe(100);
  });

  it('keeps a tenth for a request running past its estimate', () => {
    expect(remainingTokens('200:1000:2000', 9000)).toBeCloseTo(20);
  });

  it('treats missing or malformed values sanely', () => {
    expect(remainingTokens(null, 0)).toBe(0);
    expect(remainingTokens('garbage', 0)).toBe(0);
    expect(remainingTokens('50', 0)).toBe(50);
  });
});
