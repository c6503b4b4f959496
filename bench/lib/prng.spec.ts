import { exponential, fnv1a, mulberry32, normal } from './prng';

describe('mulberry32', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs);
  });

  it('is uniform in [0, 1)', () => {
    const rng = mulberry32(7);
    const xs = Array.from({ length: 20_000 }, () => rng());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeCloseTo(0.5, 2);
    const lowTenth = xs.filter((x) => x < 0.1).length / xs.length;
    expect(lowTenth).toBeGreaterThan(0.09);
    expect(lowTenth).toBeLessThan(0.11);
  });
});

describe('fnv1a', () => {
  it('matches the reference values', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });
});

describe('normal and exponential', () => {
  it('have the right mean and spread', () => {
    const rng = mulberry32(1);
    const zs = Array.from({ length: 20_000 }, () => normal(rng));
    const m = zs.reduce((s, z) => s + z, 0) / zs.length;
    const sd = Math.sqrt(zs.reduce((s, z) => s + (z - m) ** 2, 0) / zs.length);
    expect(Math.abs(m)).toBeLessThan(0.03);
    expect(sd).toBeCloseTo(1, 1);
    const es = Array.from({ length: 20_000 }, () => exponential(rng, 5));
    expect(es.reduce((s, e) => s + e, 0) / es.length).toBeCloseTo(5, 0);
  });
});
