import { Counter, Histogram, Registry } from 'prom-client';
import { ExpositionError, parseExposition, samplesOf, sumOf } from './exposition-parser';

describe('parseExposition', () => {
  it('reads prom-client output: types, help, escaped labels, histograms', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'x_total', help: 'a "counter"\\ with\nnewline', labelNames: ['a'], registers: [registry] });
    c.inc({ a: 'quote " backslash \\ newline \n end' }, 3);
    const h = new Histogram({ name: 'lat_seconds', help: 'latency', labelNames: ['r'], buckets: [0.1, 1], registers: [registry] });
    h.observe({ r: 'x' }, 0.05);
    h.observe({ r: 'x' }, 5);
    const families = parseExposition(await registry.metrics());
    expect(families.get('x_total')).toMatchObject({ type: 'counter', help: 'a "counter"\\ with\nnewline' });
    expect(samplesOf(families, 'x_total')[0].labels.a).toBe('quote " backslash \\ newline \n end');
    expect(sumOf(families, 'x_total')).toBe(3);
    const lat = families.get('lat_seconds')!;
    expect(lat.type).toBe('histogram');
    expect(samplesOf(families, 'lat_seconds_bucket', { r: 'x' }).map((s) => [s.labels.le, s.value])).toEqual([
      ['0.1', 1],
      ['1', 1],
      ['+Inf', 2],
    ]);
    expect(sumOf(families, 'lat_seconds_count')).toBe(2);
    expect(sumOf(families, 'lat_seconds_sum')).toBeCloseTo(5.05);
  });

  it('accepts comments, blank lines, special values and timestamps', () => {
    const f = parseExposition('# just a comment\n\n# TYPE g gauge\ng{a="1",} +Inf 1700000000000\ng{a="2"} NaN\ng -1.5e3\n');
    expect(f.get('g')!.samples.map((s) => s.value)).toEqual([Infinity, NaN, -1500]);
    expect(f.get('g')!.samples[0].timestamp).toBe(1700000000000);
  });

  it.each([
    ['no final line feed', '# TYPE a gauge\na 1'],
    ['a bad metric name', '1abc 1\n'],
    ['a bad value', 'a one\n'],
    ['trailing garbage', 'a 1 2 3\n'],
    ['an unterminated label value', 'a{b="x} 1\n'],
    ['a bad escape', 'a{b="\\t"} 1\n'],
    ['a repeated label', 'a{b="1",b="2"} 1\n'],
    ['a reserved label', 'a{__name__="x"} 1\n'],
    ['an unknown type', '# TYPE a thing\na 1\n'],
    ['TYPE after samples', 'a 1\n# TYPE a gauge\n'],
    ['a second TYPE', '# TYPE a gauge\n# TYPE a gauge\na 1\n'],
    ['a duplicate series', 'a{x="1"} 1\na{x="1"} 2\n'],
    ['a family split in two', 'a 1\nb 1\na{x="2"} 1\n'],
    ['a negative counter', '# TYPE a_total counter\na_total -1\n'],
    ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    ['a non-cumulative histogram', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
    ['a histogram whose +Inf differs from _count', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n'],
    ['a bucket without le', '# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n'],
  ])('rejects %s', (_name, text) => {
    expect(() => parseExposition(text)).toThrow(ExpositionError);
  });
});
