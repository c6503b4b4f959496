import { averageStats, ratio, runStats, statsTable, upsertSection, type ServedRequest } from './schedule-report';

const served = (latencyMs: number, node: string, cold = false, ok = true): ServedRequest => ({ latencyMs, node, cold, ok });

describe('runStats', () => {
  it('summarises the answered requests, per node and cold share', () => {
    const s = runStats([served(1000, 'a'), served(3000, 'b', true), served(2000, 'a'), served(99_000, 'a', false, false)], 5000, ['a', 'b', 'c']);
    expect(s).toEqual({ count: 4, errors: 1, mean: 2000, p50: 2000, p95: 3000, p99: 3000, makespanMs: 5000, perNode: { a: 2, b: 1, c: 0 }, coldShare: 1 / 3 });
  });
});

describe('averageStats', () => {
  it('averages every figure over runs and sums counts', () => {
    const a = runStats([served(1000, 'a')], 10, ['a', 'b']);
    const b = runStats([served(3000, 'b', true)], 30, ['a', 'b']);
    expect(averageStats([a, b])).toEqual({ count: 2, errors: 0, mean: 2000, p50: 2000, p95: 2000, p99: 2000, makespanMs: 20, perNode: { a: 0.5, b: 0.5 }, coldShare: 0.5 });
    expect(() => averageStats([])).toThrow(/no runs/);
  });
});

describe('statsTable and ratio', () => {
  it('writes seconds, nodes in order and the cold share', () => {
    const t = statsTable([{ label: 'ect', stats: runStats([served(1500, 'a'), served(2500, 'b', true)], 4000, ['a', 'b']) }], ['a', 'b']);
    expect(t.split('\n')[0]).toMatch(/\| strategy \| mean s .*requests per node \(a \/ b\) \| cold +\| errors \|/);
    expect(t.split('\n')[2]).toMatch(/\| ect +\| 2\.00 +\| 1\.50 +\| 2\.50 +\| 2\.50 +\| 4\.00 +\| 1 \/ 1 +\| 50\.0% \| 0 +\|/);
    expect(ratio(3, 2)).toBe('1.50x');
    expect(ratio(1, 0)).toBe('-');
  });
});

describe('upsertSection', () => {
  const doc = '# Benchmark results\n\n## Gateway overhead\n\nold overhead\n\n## Scheduling quality\n\nold tables\n\n## Later\n\nkept\n';

  it('replaces only its own section and keeps the others byte for byte', () => {
    const out = upsertSection(doc, 'Scheduling quality', 'new tables');
    expect(out).toBe('# Benchmark results\n\n## Gateway overhead\n\nold overhead\n\n## Scheduling quality\n\nnew tables\n\n## Later\n\nkept\n');
  });

  it('appends the section when missing, and starts a file when empty', () => {
    expect(upsertSection('# Benchmark results\n\n## Gateway overhead\n\nx\n', 'Scheduling quality', 'y')).toBe(
      '# Benchmark results\n\n## Gateway overhead\n\nx\n\n## Scheduling quality\n\ny\n',
    );
    expect(upsertSection('', 'Scheduling quality', 'y')).toBe('# Benchmark results\n\n## Scheduling quality\n\ny\n');
  });
});
