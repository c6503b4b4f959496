import { HerdError } from '../common/herd-error';
import { daysBetween, parseDay, usageRange, utcDay } from './usage-days';

const NOW = Date.parse('2025-03-10T23:59:30Z');

function problem(query: Record<string, unknown>): string {
  try {
    usageRange(query, NOW);
  } catch (err) {
    expect(err).toBeInstanceOf(HerdError);
    expect((err as HerdError).status).toBe(400);
    return (err as HerdError).message;
  }
  throw new Error('expected a 400');
}

describe('usage days', () => {
  it('names the UTC day of an instant, whatever the local zone would say', () => {
    expect(utcDay(Date.parse('2025-03-10T23:59:59.999Z'))).toBe('2025-03-10');
    expect(utcDay(Date.parse('2025-03-11T00:00:00Z'))).toBe('2025-03-11');
  });

  it('parses only days that exist on the calendar', () => {
    expect(parseDay('2024-02-29')).toBe(Date.parse('2024-02-29T00:00:00Z'));
    for (const bad of ['2023-02-29', '2025-13-01', '2025-00-10', '2025-04-31', '2025-3-1', '20250301', '2025-03-01T00:00', ' 2025-03-01', '1969-12-31', '', 'today']) {
      expect(parseDay(bad)).toBeUndefined();
    }
  });

  it('lists every day between two midnights, across month and year ends', () => {
    expect(daysBetween(Date.parse('2024-12-30T00:00:00Z'), Date.parse('2025-01-02T00:00:00Z'))).toEqual(['2024-12-30', '2024-12-31', '2025-01-01', '2025-01-02']);
    expect(daysBetween(Date.parse('2024-02-28T00:00:00Z'), Date.parse('2024-03-01T00:00:00Z'))).toEqual(['2024-02-28', '2024-02-29', '2024-03-01']);
  });

  it('covers the last 30 days up to today by default', () => {
    const r = usageRange({}, NOW);
    expect(r).toMatchObject({ from: '2025-02-09', to: '2025-03-10' });
    expect(r.days).toHaveLength(30);
    expect(r.days[0]).toBe('2025-02-09');
    expect(r.days[29]).toBe('2025-03-10');
  });

  it('takes from alone (up to today), to alone (30 days up to it), and both', () => {
    expect(usageRange({ from: '2025-03-08' }, NOW).days).toEqual(['2025-03-08', '2025-03-09', '2025-03-10']);
    expect(usageRange({ to: '2025-01-30' }, NOW)).toMatchObject({ from: '2025-01-01', to: '2025-01-30' });
    expect(usageRange({ from: '2025-03-01', to: '2025-03-01' }, NOW).days).toEqual(['2025-03-01']);
    expect(usageRange({ from: '2024-03-11', to: '2025-03-11' }, NOW).days).toHaveLength(366);
  });

  it('refuses bad days, reversed and oversized ranges, repeated and unknown parameters with a 400 that says why', () => {
    expect(problem({ from: '2025-02-30' })).toMatch(/^from must be a day YYYY-MM-DD .*"2025-02-30"/);
    expect(problem({ to: 'yesterday' })).toMatch(/^to must be a day/);
    expect(problem({ from: '2025-03-05', to: '2025-03-04' })).toBe('from (2025-03-05) is after to (2025-03-04)');
    expect(problem({ from: '2025-03-11' })).toBe('from (2025-03-11) is after to (2025-03-10)');
    expect(problem({ from: '2024-01-01', to: '2025-01-01' })).toBe('the range covers 367 days; ask for at most 366 at once');
    expect(problem({ from: ['2025-03-01', '2025-03-02'] })).toBe('from must be given once, as a day YYYY-MM-DD');
    expect(problem({ from: { gt: '2025-03-01' } })).toBe('from must be given once, as a day YYYY-MM-DD');
    expect(problem({ form: '2025-03-01' })).toMatch(/^unknown query parameter "form"/);
    expect(problem({ from: 'x'.repeat(10_000) }).length).toBeLessThan(200);
  });
});
