import { admits, circuitView, cooldownMs, DEFAULT_CIRCUIT_POLICY, recordFailure, recordSuccess, startProbe, type CircuitState } from './circuit-breaker';

const p = { failureThreshold: 3, baseCooldownMs: 1000, maxCooldownMs: 8000 };

function failTimes(n: number, now: number, start?: CircuitState): CircuitState {
  let s = start;
  for (let i = 0; i < n; i++) s = recordFailure(s, now, p);
  return s!;
}

describe('circuit breaker', () => {
  it('stays closed below the threshold and opens at it', () => {
    expect(circuitView(failTimes(2, 0), 0)).toBe('closed');
    const open = failTimes(3, 0);
    expect(circuitView(open, 0)).toBe('open');
    expect(admits(open, 999)).toBe(false);
    expect(open.openUntil).toBe(1000);
  });

  it('turns half-open after the cooldown and admits one probe', () => {
    const open = failTimes(3, 0);
    expect(circuitView(open, 1000)).toBe('half-open');
    expect(admits(open, 1000)).toBe(true);
    const probing = startProbe(open);
    expect(admits(probing, 1001)).toBe(false);
  });

  it('closes on a successful probe', () => {
    expect(circuitView(recordSuccess(), 5000)).toBe('closed');
  });

  it('re-opens with a doubled cooldown when the probe fails', () => {
    const open = failTimes(3, 0);
    const reopened = recordFailure(startProbe(open), 1000, p);
    expect(reopened.opens).toBe(2);
    expect(reopened.openUntil).toBe(1000 + 2000);
    const third = recordFailure(reopened, 3000, p);
    expect(third.openUntil).toBe(3000 + 4000);
  });

  it('caps the cooldown', () => {
    expect(cooldownMs(10, p)).toBe(8000);
    expect(cooldownMs(1, DEFAULT_CIRCUIT_POLICY)).toBe(DEFAULT_CIRCUIT_POLICY.baseCooldownMs);
  });
});
