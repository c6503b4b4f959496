import { DEFAULT_DECODE_TPS, DEFAULT_LOAD_MS, DEFAULT_PREFILL_TPS, DEFAULT_SLOWDOWN, fleetPriors, ratesFor, resolveRates } from './rate-priors';
import { MODEL, node, rates } from './scheduler.fixture';

describe('fleetPriors', () => {
  it('takes the best measurement of the model across the fleet and ignores unmeasured entries', () => {
    const fleet = {
      nodes: [
        node('a', { rates: rates(20, { prefillTps: 800, loadMs: 4000 }) }),
        node('b', { rates: rates(35, { prefillTps: 600, loadMs: 2500 }) }),
        node('c', { rates: { [MODEL]: { samples: 0, decodeTps: 999, prefillTps: 99999, loadMs: 1 } } }),
        node('d', { rates: { 'mistral:latest': { samples: 5, decodeTps: 500 } } }),
      ],
    };
    expect(fleetPriors(fleet, MODEL)).toEqual({ decodeTps: 35, prefillTps: 800, loadMs: 2500 });
  });

  it('is empty when nobody measured the model', () => {
    expect(fleetPriors({ nodes: [node('a')] }, MODEL)).toEqual({});
  });
});

describe('resolveRates', () => {
  const fleetBest = { decodeTps: 42, prefillTps: 700, loadMs: 1500 };

  it('uses the node’s own measurements when it has them', () => {
    const r = resolveRates(node('a', { rates: rates(12, { slowdown: 0.8 }), tokensPerSecondHint: 90 }), MODEL, fleetBest);
    expect(r).toEqual({ decodeTps: 12, decodeSource: 'measured', prefillTps: 1000, loadMs: 3000, slowdown: 0.8 });
  });

  it('prefers the config hint over the fleet for decode', () => {
    const r = resolveRates(node('a', { tokensPerSecondHint: 90 }), MODEL, fleetBest);
    expect(r).toMatchObject({ decodeTps: 90, decodeSource: 'hint', prefillTps: 700, loadMs: 1500, slowdown: DEFAULT_SLOWDOWN });
  });

  it('falls back to the fleet’s best, then to the defaults', () => {
    expect(resolveRates(node('a'), MODEL, fleetBest)).toMatchObject({ decodeTps: 42, decodeSource: 'fleet' });
    expect(resolveRates(node('a'), MODEL, {})).toEqual({
      decodeTps: DEFAULT_DECODE_TPS,
      decodeSource: 'default',
      prefillTps: DEFAULT_PREFILL_TPS,
      loadMs: DEFAULT_LOAD_MS,
      slowdown: DEFAULT_SLOWDOWN,
    });
  });

  it('ignores rates with zero samples and fills missing fields field by field', () => {
    const unmeasured = resolveRates(node('a', { rates: { [MODEL]: { samples: 0, decodeTps: 1 } } }), MODEL, {});
    expect(unmeasured.decodeTps).toBe(DEFAULT_DECODE_TPS);
    const partial = resolveRates(node('a', { rates: { [MODEL]: { samples: 3, decodeTps: 7 } } }), MODEL, fleetBest);
    expect(partial).toMatchObject({ decodeTps: 7, prefillTps: 700, loadMs: 1500 });
  });

  it('clamps a stored slowdown into [0, 2]', () => {
    expect(resolveRates(node('a', { rates: rates(10, { slowdown: 9 }) }), MODEL, {}).slowdown).toBe(2);
    expect(resolveRates(node('a', { rates: rates(10, { slowdown: -1 }) }), MODEL, {}).slowdown).toBe(0);
  });

  it('finds rates stored under an untagged name', () => {
    const n = node('a', { rates: { llama3: { samples: 1, decodeTps: 5 } } });
    expect(ratesFor(n, MODEL)?.decodeTps).toBe(5);
  });
});
