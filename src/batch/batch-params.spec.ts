import { readBatchParams, windowSeconds } from './batch-params';

const FILE = 'file-0123456789abcdef01234567';
const ok = { input_file_id: FILE, endpoint: '/v1/chat/completions', completion_window: '24h' };

describe('windowSeconds', () => {
  it.each([
    ['24h', 86_400],
    ['30s', 30],
    ['10m', 600],
    ['1h', 3600],
  ])('%s is %i s', (w, s) => expect(windowSeconds(w)).toBe(s));

  it.each(['48h', '0s', '1d', '', '24', '-1h', '1e3s', 24, null, '86401s'])('refuses %p', (w) => expect(windowSeconds(w)).toBeUndefined());
});

describe('readBatchParams', () => {
  it('reads a valid body', () => {
    expect(readBatchParams({ ...ok, metadata: { a: 'b' } })).toEqual({ inputFileId: FILE, endpoint: '/v1/chat/completions', completionWindow: '24h', windowSeconds: 86_400, metadata: { a: 'b' } });
    expect(readBatchParams(ok).metadata).toBeNull();
  });

  it.each([
    ['not an object', [], 400, /JSON object/],
    ['no file', { ...ok, input_file_id: undefined }, 400, /input_file_id is required/],
    ['a file id Herd never made', { ...ok, input_file_id: '../x' }, 404, /no such file/],
    ['another endpoint', { ...ok, endpoint: '/v1/responses' }, 400, /endpoint must be one of/],
    ['a window too long', { ...ok, completion_window: '25h' }, 400, /completion_window/],
    ['metadata not an object', { ...ok, metadata: 'x' }, 400, /metadata must be an object/],
    ['metadata with a number', { ...ok, metadata: { k: 1 } }, 400, /metadata values/],
    ['metadata too big', { ...ok, metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, 400, /at most 16/],
    ['a long metadata key', { ...ok, metadata: { ['k'.repeat(65)]: 'v' } }, 400, /keys must be 1 to 64/],
  ])('refuses %s', (_name, body, status, message) => {
    expect(() => readBatchParams(body)).toThrow(message);
    try {
      readBatchParams(body);
    } catch (err) {
      expect((err as { status: number }).status).toBe(status);
    }
  });
});
