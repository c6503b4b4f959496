import { adminAccess, isLoopbackHost, lockedRoutes, nodeAccess, presentedKey, sameSecret, withoutAddress } from './access';
import { warnIfLocked } from './startup-warning';

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
    ['LOCALHOST.', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
    ['128.0.0.1', false],
    ['::2', false],
    ['herd.local', false],
    ['localhost.evil.com', false],
  ])('%s → %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe('sameSecret', () => {
  it('compares whole strings, any lengths', () => {
    expect(sameSecret('sesame-123', 'sesame-123')).toBe(true);
    expect(sameSecret('sesame-12', 'sesame-123')).toBe(false);
    expect(sameSecret('sesame-1234', 'sesame-123')).toBe(false);
    expect(sameSecret('', 'sesame-123')).toBe(false);
  });
});

describe('presentedKey', () => {
  it('takes a Bearer token first, else the named header', () => {
    expect(presentedKey({ authorization: 'Bearer abc' }, 'x-herd-admin-key')).toBe('abc');
    expect(presentedKey({ authorization: 'bearer   abc ' }, 'x-herd-admin-key')).toBe('abc');
    expect(presentedKey({ 'x-herd-admin-key': 'def' }, 'x-herd-admin-key')).toBe('def');
    expect(presentedKey({ authorization: 'Basic Zm9v', 'x-herd-admin-key': 'def' }, 'x-herd-admin-key')).toBe('def');
    expect(presentedKey({ authorization: 'Basic Zm9v' }, 'x-herd-admin-key')).toBeUndefined();
    expect(presentedKey({}, 'x-herd-admin-key')).toBeUndefined();
  });
});

describe('adminAccess and nodeAccess', () => {
  const open = { host: '127.0.0.1' };
  const wide = { host: '0.0.0.0' };

  it('without a key: open on loopback, locked elsewhere', () => {
    expect(adminAccess(open, {})).toBe('granted');
    expect(adminAccess(wide, {})).toBe('locked');
    expect(adminAccess(wide, { authorization: 'Bearer anything' })).toBe('locked');
    expect(nodeAccess(open, {})).toBe('granted');
    expect(nodeAccess({ host: '::' }, {})).toBe('locked');
  });

  it('with a key: the key is needed on every host', () => {
    for (const host of ['127.0.0.1', '0.0.0.0']) {
      const config = { host, adminKey: 'admin-key-1', nodeKey: 'node-key-1' };
      expect(adminAccess(config, {})).toBe('missing');
      expect(adminAccess(config, { authorization: 'Bearer nope-nope' })).toBe('wrong');
      expect(adminAccess(config, { authorization: 'Bearer admin-key-1' })).toBe('granted');
      expect(adminAccess(config, { 'x-herd-admin-key': 'admin-key-1' })).toBe('granted');
      expect(nodeAccess(config, { authorization: 'Bearer node-key-1' })).toBe('granted');
      expect(nodeAccess(config, { 'x-herd-node-key': 'node-key-1' })).toBe('granted');
      // Each key opens its own routes only.
      expect(nodeAccess(config, { authorization: 'Bearer admin-key-1' })).toBe('wrong');
      expect(nodeAccess(config, { 'x-herd-admin-key': 'admin-key-1' })).toBe('missing');
      expect(adminAccess(config, { authorization: 'Bearer node-key-1' })).toBe('wrong');
    }
  });
});

describe('start-up warning', () => {
  it('warns once when admin routes are locked, says info when only heartbeats are, and stays quiet otherwise', () => {
    const lines: { level: string; msg: string }[] = [];
    const log = { warn: (msg: string) => lines.push({ level: 'warn', msg }), info: (msg: string) => lines.push({ level: 'info', msg }) };
    warnIfLocked({ host: '0.0.0.0' }, log);
    expect(lines).toEqual([{ level: 'warn', msg: expect.stringMatching(/HERD_ADMIN_KEY and HERD_NODE_KEY are not set .*admin routes .*node heartbeats/) as unknown }]);
    lines.length = 0;
    warnIfLocked({ host: '0.0.0.0', adminKey: 'admin-key-1' }, log);
    expect(lines).toEqual([{ level: 'info', msg: expect.stringContaining('HERD_NODE_KEY is not set') as unknown }]);
    lines.length = 0;
    warnIfLocked({ host: '127.0.0.1' }, log);
    warnIfLocked({ host: '0.0.0.0', adminKey: 'admin-key-1', nodeKey: 'node-key-1' }, log);
    expect(lines).toEqual([]);
    expect(lockedRoutes({ host: '10.0.0.1', nodeKey: 'node-key-1' }).map((l) => l.key)).toEqual(['HERD_ADMIN_KEY']);
  });
});

describe('withoutAddress', () => {
  it('takes the node address out of an error message', () => {
    expect(withoutAddress('connect ECONNREFUSED 192.0.2.11:11434', 'http://192.0.2.11:11434')).toBe('connect ECONNREFUSED <node>');
    expect(withoutAddress('GET http://gpu.lab:11434/api/tags failed', 'http://gpu.lab:11434')).toBe('GET <node>/api/tags failed');
    expect(withoutAddress('connect ECONNREFUSED ::1:11434', 'http://[::1]:11434')).toBe('connect ECONNREFUSED <node>:11434');
    expect(withoutAddress('the simulated node failed', 'http://sim:11434')).toBe('the simulated node failed');
    expect(withoutAddress(undefined, 'http://192.0.2.11:11434')).toBeUndefined();
  });
});
