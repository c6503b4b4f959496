import { leaseTenant, remainingTokens } from './ledger.repository';

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

describe('leaseTenant', () => {
  it('reads the tenant written after the estimate, colons included', () => {
    expect(leaseTenant('200:1000:2000:team-a')).toBe('team-a');
    expect(leaseTenant('200:1000:2000:org:team')).toBe('org:team');
    expect(remainingTokens('200:1000:2000:org:team', 2000)).toBe(100);
  });

  it('is empty for a lease without one (written by an older replica) or none at all', () => {
    expect(leaseTenant('200:1000:2000')).toBe('');
    expect(leaseTenant('200:1000:2000:')).toBe('');
    expect(leaseTenant(null)).toBe('');
  });
});
