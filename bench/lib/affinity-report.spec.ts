import {
  affinityBars,
  affinityLine,
  affinityStats,
  affinityTable,
  averageAffinityStats,
  maxHitRatio,
  safeRatio,
  type AffinityStats,
  type ServedTurn,
} from './affinity-report';

const turn = (ttftMs: number, latencyMs: number, node: string, promptTokens = 100, expectedCachedTokens = 0, ok = true): ServedTurn => ({
  ok,
  ttftMs,
  latencyMs,
  node,
  promptTokens,
  expectedCachedTokens,
});

describe('maxHitRatio', () => {
  it('is the cacheable share of every prompt token, first turns included', () => {
    expect(
      maxHitRatio([
        { promptTokens: 1500, maxCachedTokens: 0 },
        { promptTokens: 1600, maxCachedTokens: 1560 },
        { promptTokens: 1700, maxCachedTokens: 1660 },
      ]),
    ).toBeCloseTo(3220 / 4800, 12);
  });
  it('never counts more cached than prompt tokens, and is NaN without turns', () => {
    expect(maxHitRatio([{ promptTokens: 10, maxCachedTokens: 50 }])).toBe(1);
    expect(maxHitRatio([])).toBeNaN();
  });
});

describe('affinityStats', () => {
  it('summarises the answered turns, the counters and what Herd expected', () => {
    const s = affinityStats(
      [turn(100, 1000, 'a', 100, 50), turn(300, 3000, 'b', 300, 0), turn(200, 2000, 'a', 100, 90), turn(NaN, 9000, '', 100, 0, false)],
      { promptTokens: 500, cachedTokens: 200 },
      0.6,
      ['a', 'b', 'c'],
      4,
    );
    expect(s).toEqual({
      turns: 4,
      errors: 1,
      skipped: 4,
      ttftP50: 200,
      ttftP95: 300,
      mean: 2000,
      p99: 3000,
      hitRatio: 0.4,
      maxHitRatio: 0.6,
      expectedHitRatio: 140 / 500,
      perNode: { a: 2, b: 1, c: 0 },
    });
  });
});

const stats = (over: Partial<AffinityStats>): AffinityStats => ({
  turns: 144,
  errors: 0,
  skipped: 0,
  ttftP50: 1000,
  ttftP95: 3000,
  mean: 5000,
  p99: 12000,
  hitRatio: 0.5,
  maxHitRatio: 0.8,
  expectedHitRatio: 0.4,
  perNode: { a: 100, b: 44 },
  ...over,
});

describe('averageAffinityStats', () => {
  it('averages every figure over seeds and sums the counts', () => {
    const avg = averageAffinityStats([stats({ mean: 4000, errors: 1, perNode: { a: 10 } }), stats({ mean: 6000, skipped: 2, perNode: { b: 4 } })]);
    expect(avg.mean).toBe(5000);
    expect(avg.turns).toBe(288);
    expect(avg.errors).toBe(1);
    expect(avg.skipped).toBe(2);
    expect(avg.perNode).toEqual({ a: 5, b: 2 });
    expect(() => averageAffinityStats([])).toThrow(/no runs/);
  });
});

describe('affinityBars', () => {
  const without = stats({});
  it('passes the host-RAM bars at the limits and fails just past them', () => {
    const ok = affinityBars({ with: stats({ ttftP50: 600, mean: 4000, hitRatio: 0.72 }), without }, { with: without, without }, null);
    expect(ok.slice(0, 3).map((b) => b.ok)).toEqual([true, true, true]);
    const bad = affinityBars({ with: stats({ ttftP50: 601, mean: 4001, hitRatio: 0.719 }), without }, { with: without, without }, null);
    expect(bad.slice(0, 3).map((b) => b.ok)).toEqual([false, false, false]);
    expect(bad[0].value).toBe('0.60x');
  });
  it('checks every slot-only figure within 3% and the single-turn mean and p99 within 3% either way', () => {
    const bars = affinityBars(
      { with: without, without },
      { with: stats({ ttftP50: 1030, ttftP95: 3100, mean: 4000, p99: 12000 }), without },
      { with: { mean: 970, p99: 1031 }, without: { mean: 1000, p99: 1000 } },
    );
    expect(bars.slice(3).map((b) => [b.what.split(':')[0], b.ok])).toEqual([
      ['slot caches only', true],
      ['slot caches only', false],
      ['slot caches only', true],
      ['slot caches only', true],
      ['single-turn hetero', true],
      ['single-turn hetero', false],
    ]);
  });
  it('fails a bar whose figure could not be measured', () => {
    const bars = affinityBars({ with: stats({ ttftP50: NaN }), without }, { with: without, without }, null);
    expect(bars[0].ok).toBe(false);
    expect(bars[0].value).toBe('-');
  });
});

describe('affinityLine', () => {
  it('is the machine-readable closing line', () => {
    expect(affinityLine(0.4123, 0.75, 1.0049)).toBe('AFFINITY ttft_p50_ratio=0.412 mean_ratio=0.750 single_turn_mean_ratio=1.005');
    expect(affinityLine(safeRatio(1, 0), 0.5, NaN)).toBe('AFFINITY ttft_p50_ratio=NaN mean_ratio=0.500 single_turn_mean_ratio=NaN');
    expect(affinityLine(1, 1, 1)).toMatch(/^AFFINITY ttft_p50_ratio=\S+ mean_ratio=\S+ single_turn_mean_ratio=\S+$/);
  });
});

describe('affinityTable', () => {
  it('has a row per strategy with the hit ratio against the maximum', () => {
    const t = affinityTable([{ label: 'ect + affinity', stats: stats({ errors: 1, skipped: 3 }) }], ['a', 'b']);
    expect(t).toContain('| ect + affinity | 1.00');
    expect(t).toContain('50.0%');
    expect(t).toContain('63%');
    expect(t).toContain('100 / 44');
    expect(t).toContain('1 (+3 skipped)');
  });
});
