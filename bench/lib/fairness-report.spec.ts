import { barLines, latencyBars, latencySummary, latencyTable, shareBar, shareTable, type ShareRow } from './fairness-report';
import { contentionShares } from './fairness-shares';

describe('latencyBars', () => {
  const solo = latencySummary([1000, 3000], 0);

  it('passes fair share at 1.5x solo or less and FIFO at 3x or more', () => {
    const bars = latencyBars(solo, latencySummary([6000], 0), latencySummary([3000], 0));
    expect(bars.map((b) => [b.ok, b.measured])).toEqual([
      [true, '1.50x'],
      [true, '3.00x'],
    ]);
  });

  it('fails them otherwise and marks a missing run as not measured', () => {
    const bars = latencyBars(solo, latencySummary([5900], 0), latencySummary([3100], 0));
    expect(bars.map((b) => b.ok)).toEqual([false, false]);
    expect(latencyBars(solo, undefined, undefined).map((b) => b.ok)).toEqual([undefined, undefined]);
    expect(barLines(bars)[0]).toBe('- fair share on: B mean <= 1.5x solo: NO (1.55x)');
  });
});

describe('latencyTable', () => {
  it('puts each row against the first (B alone)', () => {
    const t = latencyTable([
      { label: 'alone', b: latencySummary([2000], 0) },
      { label: 'behind', b: latencySummary([3000, 5000], 1), a: latencySummary([10_000], 0) },
    ]);
    const rows = t.split('\n');
    expect(rows[2]).toMatch(/^\| alone +\| 2\.00 +\| 2\.00 +\| 1\.00x +\| 1 +\| 0 +\| - +\| - +\| - +\|$/);
    expect(rows[3]).toMatch(/^\| behind +\| 4\.00 +\| 5\.00 +\| 2\.00x +\| 2 +\| 1 +\| 10\.00 +\| 1 +\| 0 +\|$/);
  });
});

describe('shareBar and shareTable', () => {
  const row = (weights: [number, number]): ShareRow => ({
    label: 'fair share on',
    weights,
    result: contentionShares(
      [
        { tenant: 'a', sentMs: 0, dispatchMs: 10, promptTokens: 0, outputTokens: 75 },
        { tenant: 'b', sentMs: 0, dispatchMs: 10, promptTokens: 0, outputTokens: 25 },
      ],
      ['a', 'b'],
    ),
  });

  it('judges the cost shares against the weights', () => {
    expect(shareBar(row([3, 1])).ok).toBe(true);
    expect(shareBar(row([1, 1])).ok).toBe(false);
  });

  it('prints shares, targets and deviations', () => {
    const line = shareTable([row([1, 1])], 0.1).split('\n')[2];
    expect(line).toContain('75.0% / 25.0%');
    expect(line).toContain('50.0% / 50.0%');
    expect(line).toContain('+50.0% / -50.0%');
  });
});
