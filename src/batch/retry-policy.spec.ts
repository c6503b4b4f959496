import { afterHerdError, backoffMs, MAX_TRIES, slotWaitMs } from './retry-policy';

describe('afterHerdError', () => {
  it('puts a line back for a full batch lane without counting an attempt, 50-200 ms later', () => {
    for (const rng of [0, 0.5, 0.999]) {
      const d = afterHerdError({ status: 503, code: 'HERD_BATCH_LANE_FULL' }, MAX_TRIES + 3, rng);
      expect(d).toEqual({ kind: 'later', delayMs: slotWaitMs(rng), counts: false });
      expect(slotWaitMs(rng)).toBeGreaterThanOrEqual(50);
      expect(slotWaitMs(rng)).toBeLessThanOrEqual(200);
    }
  });

  it('gives work back at once, uncounted, when this replica is shutting down', () => {
    expect(afterHerdError({ status: 503, code: 'HERD_SHUTTING_DOWN' }, 0, 0.5)).toEqual({ kind: 'later', delayMs: 0, counts: false, stopClaiming: true });
  });

  it.each(['HERD_NO_NODE_FOR_MODEL', 'HERD_REDIS_UNAVAILABLE', 'HERD_UPSTREAM_UNREACHABLE', 'HERD_UPSTREAM_TIMEOUT', 'HERD_QUEUE_FULL', 'HERD_MODEL_GONE'])(
    'retries %s with backoff, then gives up',
    (code) => {
      expect(afterHerdError({ status: 503, code }, 0, 0.5)).toEqual({ kind: 'later', delayMs: backoffMs(0, 0.5), counts: true });
      expect(afterHerdError({ status: 503, code }, MAX_TRIES - 1, 0.5)).toEqual({ kind: 'give-up' });
    },
  );

  it.each(['HERD_NO_NODE_FOR_MODEL', 'HERD_QUEUE_FULL', 'HERD_REDIS_UNAVAILABLE'])('lets patient work (a batch line) wait out %s, uncounted, every 1-2 s', (code) => {
    for (const tries of [0, MAX_TRIES - 1, MAX_TRIES + 10]) {
      expect(afterHerdError({ status: 503, code }, tries, 0.5, true)).toEqual({ kind: 'later', delayMs: backoffMs(1, 0.5), counts: false });
    }
    expect(backoffMs(1, 0)).toBeGreaterThanOrEqual(500);
    expect(backoffMs(1, 1)).toBeLessThanOrEqual(2000);
  });

  it('still counts a node failure against patient work: the line itself may be what fails', () => {
    expect(afterHerdError({ status: 502, code: 'HERD_UPSTREAM_ERROR' }, 0, 0.5, true)).toEqual({ kind: 'later', delayMs: backoffMs(0, 0.5), counts: true });
    expect(afterHerdError({ status: 502, code: 'HERD_UPSTREAM_ERROR' }, MAX_TRIES - 1, 0.5, true)).toEqual({ kind: 'give-up' });
  });

  it.each([
    [400, 'HERD_BAD_REQUEST'],
    [404, 'HERD_MODEL_NOT_FOUND'],
    [403, 'HERD_MODEL_NOT_ALLOWED'],
    [401, 'HERD_INVALID_API_KEY'],
  ])('gives up at once on %i %s', (status, code) => {
    expect(afterHerdError({ status, code }, 0, 0.5)).toEqual({ kind: 'give-up' });
  });

  it('backs off exponentially up to 10 s, jittered between half and all of it', () => {
    expect(backoffMs(0, 1)).toBe(500);
    expect(backoffMs(2, 1)).toBe(2000);
    expect(backoffMs(10, 1)).toBe(10_000);
    expect(backoffMs(2, 0)).toBe(1000);
  });
});
