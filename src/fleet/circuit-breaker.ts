/**
 * Per-node circuit breaker, pure: state in, state out, `now` passed in. Consecutive dispatch failures
 * (Ollama's instant "server busy" 503 included) open the circuit; after a cooldown that grows with every
 * re-open, one probe request decides whether it closes again.
 */
export interface CircuitState {
  /** Consecutive failures since the last success. */
  failures: number;
  /** Epoch ms until which the circuit is open (0 = not open). */
  openUntil: number;
  /** How many times in a row it opened without a success in between (drives the growing cooldown). */
  opens: number;
  /** A probe is running after the cooldown: nothing else goes there until it ends. */
  probing: boolean;
}

export interface CircuitPolicy {
  failureThreshold: number;
  baseCooldownMs: number;
  maxCooldownMs: number;
}

export const DEFAULT_CIRCUIT_POLICY: CircuitPolicy = { failureThreshold: 3, baseCooldownMs: 2000, maxCooldownMs: 60_000 };

export const CLOSED: CircuitState = { failures: 0, openUntil: 0, opens: 0, probing: false };

export type CircuitView = 'closed' | 'open' | 'half-open';

export function circuitView(s: CircuitState | undefined, now: number): CircuitView {
  if (!s || (s.openUntil === 0 && !s.probing)) return 'closed';
  return now < s.openUntil || s.probing ? 'open' : 'half-open';
}

/** Whether a new request may go to the node now (a half-open circuit admits exactly the probe). */
export function admits(s: CircuitState | undefined, now: number): boolean {
  return circuitView(s, now) !== 'open';
}

export function cooldownMs(opens: number, p: CircuitPolicy): number {
  return Math.min(p.maxCooldownMs, p.baseCooldownMs * 2 ** Math.max(0, opens - 1));
}

export function recordFailure(s: CircuitState | undefined, now: number, p: CircuitPolicy = DEFAULT_CIRCUIT_POLICY): CircuitState {
  const prev = s ?? CLOSED;
  const failures = prev.failures + 1;
  const halfOpenProbeFailed = prev.probing || (prev.openUntil > 0 && now >= prev.openUntil);
  if (halfOpenProbeFailed || failures >= p.failureThreshold) {
    const opens = prev.opens + 1;
    return { failures, openUntil: now + cooldownMs(opens, p), opens, probing: false };
  }
  return { ...prev, failures };
}

export function recordSuccess(): CircuitState {
  return CLOSED;
}

/** Marks the start of the half-open probe. */
export function startProbe(s: CircuitState): CircuitState {
  return { ...s, probing: true };
}
