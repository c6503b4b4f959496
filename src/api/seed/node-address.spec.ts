import { nodeAddress } from './node-address';

describe('nodeAddress', () => {
  it.each([
    ['http://192.0.2.11:11434', { ipv4: '192.0.2.11', ipv6: null, hostname: null, port: 11434 }],
    ['http://[fd00::7]:8080', { ipv4: null, ipv6: 'fd00::7', hostname: null, port: 8080 }],
    ['https://gpu-1.lab.internal', { ipv4: null, ipv6: null, hostname: 'gpu-1.lab.internal', port: 443 }],
    ['http://ollama', { ipv4: null, ipv6: null, hostname: 'ollama', port: 80 }],
    ['not a url', { ipv4: null, ipv6: null, hostname: null, port: null }],
  ])('splits %s', (url, expected) => {
    expect(nodeAddress(url)).toEqual(expected);
  });
});
