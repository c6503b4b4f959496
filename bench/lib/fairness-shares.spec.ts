import { contentionShares, firstSlotWaits, serviceCost, shareDeviations, sharesWithin, type DispatchedRequest } from './fairness-shares';

const req = (tenant: string, sentMs: number, dispatchMs: number, outputTokens = 10, promptTokens = 0): DispatchedRequest => ({ tenant, sentMs, dispatchMs, promptTokens, outputTokens });

describe('serviceCost', () => {
  it('weighs output tokens twice', () => {
    expect(serviceCost(50, 100)).toBe(250);
  });
});

describe('contentionShares', () => {
  it('counts only dispatches made while the other tenant had a request waiting', () => {
    const requests = [
      req('a', 0, 0, 100), // b sent nothing yet: not counted
      req('a', 0, 20, 100), // b waits (sent 10, dispatched 30): counted
      req('b', 10, 30, 10, 5), // a waits (sent 0, dispatched 50): counted
      req('a', 0, 50, 100), // b's next was sent at 60: nothing of b waits, not counted
      req('b', 60, 60, 10), // a has nothing waiting: not counted
    ];
    const r = contentionShares(requests, ['a', 'b']);
    expect(r.counted).toBe(2);
    expect([r.fromMs, r.toMs]).toEqual([20, 30]);
    expect(r.shares).toEqual([
      { tenant: 'a', requests: 1, outputTokens: 100, cost: 200, outputShare: 100 / 110, costShare: 200 / 225 },
      { tenant: 'b', requests: 1, outputTokens: 10, cost: 25, outputShare: 10 / 110, costShare: 25 / 225 },
    ]);
  });

  it('does not count a request as waiting for its own tenant, and counts a request dispatched at the same moment as waiting', () => {
    const r = contentionShares([req('a', 0, 5), req('b', 0, 5)], ['a', 'b']);
    expect(r.counted).toBe(2);
    expect(contentionShares([req('a', 0, 5), req('a', 0, 9)], ['a', 'b']).counted).toBe(0);
  });

  it('ignores tenants it was not asked about and reports NaN shares when nothing was contended', () => {
    const r = contentionShares([req('c', 0, 10), req('a', 0, 5)], ['a', 'b']);
    expect(r.counted).toBe(0);
    expect(r.shares.map((s) => s.costShare)).toEqual([NaN, NaN]);
    expect([r.fromMs, r.toMs]).toEqual([NaN, NaN]);
  });
});

describe('shareDeviations and sharesWithin', () => {
  it('compares each share with its weight share, relatively', () => {
    expect(shareDeviations([0.5, 0.5], [1, 1])).toEqual([0, 0]);
    const d = shareDeviations([0.7, 0.3], [3, 1]);
    expect(d[0]).toBeCloseTo(0.7 / 0.75 - 1);
    expect(d[1]).toBeCloseTo(0.2);
    expect(sharesWithin([0.54, 0.46], [1, 1], 0.1)).toBe(true);
    expect(sharesWithin([0.56, 0.44], [1, 1], 0.1)).toBe(false);
    expect(sharesWithin([0.7, 0.3], [3, 1], 0.1)).toBe(false); // b got 20% more than its share
    expect(sharesWithin([NaN, NaN], [1, 1], 0.1)).toBe(false);
  });
});

describe('firstSlotWaits', () => {
  it('measures from each request of the tenant to the next dispatch of anybody', () => {
    const requests = [req('a', 0, 0), req('a', 0, 40), req('b', 10, 70), req('a', 0, 55), req('b', 60, 60)];
    expect(firstSlotWaits(requests, 'b')).toEqual([30, 0]);
    expect(firstSlotWaits([req('b', 10, 5)], 'b')).toEqual([NaN]);
  });
});
