import { addressAllowed, checkNodeUrl, nameAllowed, nodeUrlAllow, parseNodeUrlAllow, type HostLookup } from './node-url-allow';

/** A resolver from a fixed table that records what it was asked. */
function fakeLookup(table: Record<string, string[]>): HostLookup & { asked: string[] } {
  const asked: string[] = [];
  const fn = (host: string): Promise<string[]> => {
    asked.push(host);
    const found = table[host];
    return found ? Promise.resolve(found) : Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }));
  };
  return Object.assign(fn, { asked });
}

describe('parseNodeUrlAllow', () => {
  it('reads ranges, single addresses, host names and wildcards, ignoring blanks and case', () => {
    const { allow, problems } = parseNodeUrlAllow(' 10.0.0.0/8, fd00::/8 ,192.168.1.7,::1, GPU-1.Lab.Internal., *.lab.internal,, ');
    expect(problems).toEqual([]);
    expect(allow?.ranges.map((r) => [r.family, r.prefix])).toEqual([
      [4, 8],
      [6, 8],
      [4, 32],
      [6, 128],
    ]);
    expect(allow?.names).toEqual(['gpu-1.lab.internal']);
    expect(allow?.suffixes).toEqual(['.lab.internal']);
  });

  it.each([
    ['10.0.0.0/33', /"10.0.0.0\/33": the prefix length must be 0-32/],
    ['fd00::/129', /the prefix length must be 0-128/],
    ['10.0.0.0/x', /the prefix length must be 0-32/],
    ['300.1.1.1', /300.1.1.1 is not an IPv4 or IPv6 address/],
    ['10.0.0/8', /is not an IPv4 or IPv6 address/],
    ['gpu-1/24', /gpu-1 is not an IPv4 or IPv6 address/],
    ['http://192.0.2.1', /without scheme or port/],
    ['gpu-1:11434', /without scheme or port/],
    ['10.0.0.1:11434', /without scheme or port/],
    ['*', /leave HERD_NODE_URL_ALLOW unset/],
    ['*.', /leave HERD_NODE_URL_ALLOW unset/],
    ['*..lab', /after "\*\." must come a domain name/],
    ['*.-bad', /after "\*\." must come a domain name/],
    ['gpu 1', /not an address range, an address or a host name/],
    ['-gpu.lab', /not an address range, an address or a host name/],
    ['fe80::1%eth0', /is not an IPv4 or IPv6 address/],
    [' , ', /no entries/],
  ])('refuses %j', (raw, message) => {
    const { allow, problems } = parseNodeUrlAllow(raw);
    expect(allow).toBeUndefined();
    expect(problems).toEqual([expect.stringMatching(message)]);
  });

  it('reports every bad entry, not just the first', () => {
    expect(parseNodeUrlAllow('10.0.0.0/8, 1.2.3.4/40, nope nope, gpu-1').problems).toHaveLength(2);
  });
});

describe('addressAllowed', () => {
  const allow = nodeUrlAllow('10.0.0.0/8, 192.168.1.7, fd00::/8, 2001:db8:1::/48, 172.16.5.9/12');

  it.each([
    ['10.0.0.0', true],
    ['10.255.255.255', true],
    ['11.0.0.0', false],
    ['9.255.255.255', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['172.16.0.1', true], // host bits in the entry are ignored: 172.16.5.9/12 is 172.16.0.0/12
    ['172.31.255.255', true],
    ['172.32.0.0', false],
    ['fd12:3456::1', true],
    ['fe00::1', false],
    ['2001:db8:1:ffff::1', true],
    ['2001:db8:2::1', false],
    ['[fd00::1]', true],
    ['::ffff:10.1.2.3', true], // IPv4-mapped: compared as the IPv4 address it carries
    ['::ffff:127.0.0.1', false],
    ['127.0.0.1', false],
    ['::1', false],
    ['gpu-1', false],
  ])('%s → %s', (address, expected) => {
    expect(addressAllowed(allow, address)).toBe(expected);
  });

  it('keeps IPv4 and IPv6 apart, except IPv4-mapped ranges', () => {
    expect(addressAllowed(nodeUrlAllow('0.0.0.0/0'), '::1')).toBe(false);
    expect(addressAllowed(nodeUrlAllow('::/0'), '10.0.0.1')).toBe(false);
    expect(addressAllowed(nodeUrlAllow('::/0'), 'fd00::1')).toBe(true);
    expect(addressAllowed(nodeUrlAllow('::ffff:10.0.0.0/104'), '10.200.0.1')).toBe(true);
    expect(addressAllowed(nodeUrlAllow('::ffff:10.0.0.0/104'), '11.0.0.1')).toBe(false);
  });

  it('reads every IPv6 spelling', () => {
    const one = nodeUrlAllow('2001:db8::7/128');
    for (const a of ['2001:db8::7', '2001:0db8:0000:0000:0000:0000:0000:0007', '2001:DB8:0:0::7', '[2001:db8::7]']) expect(addressAllowed(one, a)).toBe(true);
    expect(addressAllowed(one, '2001:db8::8')).toBe(false);
    expect(addressAllowed(nodeUrlAllow('::/128'), '::')).toBe(true);
    expect(addressAllowed(nodeUrlAllow('1::/128'), '1::')).toBe(true);
    expect(addressAllowed(nodeUrlAllow('64:ff9b::/96'), '64:ff9b::10.0.0.1')).toBe(true);
  });
});

describe('nameAllowed', () => {
  const allow = nodeUrlAllow('gpu-1.lab.internal, *.farm.example');

  it.each([
    ['gpu-1.lab.internal', true],
    ['GPU-1.LAB.INTERNAL.', true],
    ['gpu-2.lab.internal', false],
    ['x.gpu-1.lab.internal', false],
    ['a.farm.example', true],
    ['a.b.farm.example', true],
    ['farm.example', false], // the wildcard is for names under the domain, not the domain itself
    ['evilfarm.example', false],
    ['farm.example.evil.com', false],
  ])('%s → %s', (host, expected) => {
    expect(nameAllowed(allow, host)).toBe(expected);
  });
});

describe('checkNodeUrl', () => {
  it('decides IP literals from the ranges alone, never looking anything up', async () => {
    const allow = nodeUrlAllow('198.51.100.0/24, fd00::/8, localhost');
    const lookup = fakeLookup({});
    await expect(checkNodeUrl(allow, 'http://198.51.100.3:11434', lookup)).resolves.toEqual({ allowed: true });
    await expect(checkNodeUrl(allow, 'http://[fd00::5]:11434', lookup)).resolves.toEqual({ allowed: true });
    await expect(checkNodeUrl(allow, 'http://127.0.0.1:11434', lookup)).resolves.toEqual({ allowed: false, reason: expect.stringContaining('127.0.0.1 is not in an address range') as unknown });
    // URL parsers read odd IPv4 spellings as the address they mean.
    await expect(checkNodeUrl(allow, 'http://0x7f.1:11434', lookup)).resolves.toMatchObject({ allowed: false });
    await expect(checkNodeUrl(allow, 'http://[::ffff:127.0.0.1]:11434', lookup)).resolves.toMatchObject({ allowed: false });
    await expect(checkNodeUrl(allow, 'http://[::ffff:198.51.100.9]:11434', lookup)).resolves.toEqual({ allowed: true });
    expect(lookup.asked).toEqual([]);
  });

  it('allows a listed host name as it is, without resolving it', async () => {
    const allow = nodeUrlAllow('gpu-1.lab.internal, *.farm.example');
    const lookup = fakeLookup({});
    await expect(checkNodeUrl(allow, 'http://GPU-1.lab.internal:11434/', lookup)).resolves.toEqual({ allowed: true });
    await expect(checkNodeUrl(allow, 'https://n7.farm.example', lookup)).resolves.toEqual({ allowed: true });
    expect(lookup.asked).toEqual([]);
  });

  it('refuses other names when there are no ranges to resolve them against', async () => {
    const lookup = fakeLookup({ 'evil.example': ['10.0.0.1'] });
    await expect(checkNodeUrl(nodeUrlAllow('gpu-1.lab.internal'), 'http://evil.example:11434', lookup)).resolves.toEqual({
      allowed: false,
      reason: 'evil.example is not a host name HERD_NODE_URL_ALLOW lists',
    });
    expect(lookup.asked).toEqual([]);
  });

  it('resolves other names and needs every address inside the ranges', async () => {
    const allow = nodeUrlAllow('10.0.0.0/8, fd00::/8');
    const lookup = fakeLookup({
      'inside.lab': ['10.0.0.5', 'fd00::5'],
      'mixed.lab': ['10.0.0.5', '93.184.216.34'],
      'outside.lab': ['127.0.0.1'],
      'empty.lab': [],
    });
    await expect(checkNodeUrl(allow, 'http://inside.lab:11434', lookup)).resolves.toEqual({ allowed: true });
    await expect(checkNodeUrl(allow, 'http://mixed.lab:11434', lookup)).resolves.toEqual({ allowed: false, reason: 'mixed.lab resolves to 93.184.216.34, outside the address ranges of HERD_NODE_URL_ALLOW' });
    await expect(checkNodeUrl(allow, 'http://outside.lab:11434', lookup)).resolves.toMatchObject({ allowed: false });
    await expect(checkNodeUrl(allow, 'http://empty.lab:11434', lookup)).resolves.toMatchObject({ allowed: false, reason: expect.stringContaining('does not resolve') as unknown });
    await expect(checkNodeUrl(allow, 'http://missing.lab:11434', lookup)).resolves.toEqual({
      allowed: false,
      reason: 'missing.lab does not resolve (ENOTFOUND), so it cannot be checked against HERD_NODE_URL_ALLOW',
    });
    expect(lookup.asked).toEqual(['inside.lab', 'mixed.lab', 'outside.lab', 'empty.lab', 'missing.lab']);
  });

  it('refuses what is not a URL', async () => {
    await expect(checkNodeUrl(nodeUrlAllow('10.0.0.0/8'), 'not a url', fakeLookup({}))).resolves.toMatchObject({ allowed: false });
  });
});
