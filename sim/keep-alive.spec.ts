import { DEFAULT_KEEP_ALIVE_MS, parseKeepAlive } from './keep-alive';

describe('parseKeepAlive', () => {
  it.each([
    [undefined, DEFAULT_KEEP_ALIVE_MS],
    [null, DEFAULT_KEEP_ALIVE_MS],
    ['10m', 600_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['250ms', 250],
    ['0', 0],
    ['0s', 0],
    [0, 0],
    [30, 30_000],
    [-1, Infinity],
    ['-1m', Infinity],
    [Number.MAX_SAFE_INTEGER, Infinity],
    ['3000000h', Infinity],
  ])('%p -> %p ms', (value, ms) => {
    expect(parseKeepAlive(value)).toEqual({ ok: true, ms });
  });

  it('rejects what Go rejects, with Go wording', () => {
    expect(parseKeepAlive('abc')).toEqual({ ok: false, message: 'time: invalid duration "abc"' });
    expect(parseKeepAlive('300')).toEqual({ ok: false, message: 'time: missing unit in duration "300"' });
    expect(parseKeepAlive('5 m').ok).toBe(false);
    expect(parseKeepAlive(true)).toEqual({ ok: false, message: 'json: cannot unmarshal bool into Go value of type api.Duration' });
  });
});
