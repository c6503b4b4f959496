import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './load-config';

function fileWith(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'herd-config-'));
  const path = join(dir, 'containers.config.json');
  writeFileSync(path, content);
  return path;
}

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies defaults to the seed format', () => {
    const path = fileWith('[{"name":"a","url":"http://127.0.0.1:11434/"}]');
    const cfg = loadConfig({ CONTAINERS_CONFIG: path });
    expect(cfg.port).toBe(3000);
    expect(cfg.redisUrl).toBeUndefined();
    expect(cfg.strategy).toBe('ect');
    expect(cfg.nodes).toEqual([{ name: 'a', url: 'http://127.0.0.1:11434', slots: 1, weight: 1, memoryGb: undefined, tokensPerSecond: undefined, labels: {} }]);
  });

  it('builds a Redis URL from REDIS_HOST and REDIS_PORT', () => {
    const path = fileWith('[]');
    expect(loadConfig({ CONTAINERS_CONFIG: path, REDIS_HOST: 'cache', REDIS_PORT: '6380' }).redisUrl).toBe('redis://cache:6380');
    expect(loadConfig({ CONTAINERS_CONFIG: path, REDIS_URL: 'redis://x:1' }).redisUrl).toBe('redis://x:1');
  });

  it('reads Redis Cluster seed nodes from REDIS_CLUSTER_NODES', () => {
    const path = fileWith('[]');
    const cfg = loadConfig({ CONTAINERS_CONFIG: path, REDIS_CLUSTER_NODES: 'redis-0:6379, 10.0.0.2:7001' });
    expect(cfg.redisClusterNodes).toEqual([
      { host: 'redis-0', port: 6379 },
      { host: '10.0.0.2', port: 7001 },
    ]);
    expect(cfg.redisUrl).toBeUndefined();
    expect(loadConfig({ CONTAINERS_CONFIG: path }).redisClusterNodes).toBeUndefined();
  });

  it('refuses malformed cluster nodes and a cluster together with REDIS_URL', () => {
    const path = fileWith('[]');
    expect(problemsOf({ CONTAINERS_CONFIG: path, REDIS_CLUSTER_NODES: 'redis-0' })).toEqual([expect.stringMatching(/^REDIS_CLUSTER_NODES="redis-0": .*host1:6379,host2:6379/)]);
    expect(problemsOf({ CONTAINERS_CONFIG: path, REDIS_CLUSTER_NODES: 'a:6379,b:70000' })).toEqual([expect.stringMatching(/port 70000 of b is not 1-65535/)]);
    expect(problemsOf({ CONTAINERS_CONFIG: path, REDIS_CLUSTER_NODES: 'a:6379', REDIS_URL: 'redis://x:1' })).toEqual([expect.stringMatching(/set together with REDIS_URL/)]);
  });

  it('lists every problem at once with name, value and expectation', () => {
    const path = fileWith('[{"name":"a","url":"ftp://x"},{"name":"a","url":"http://h:1","slots":0},{"url":"http://h:2"}]');
    const problems = problemsOf({ CONTAINERS_CONFIG: path, PORT: 'abc', HERD_STRATEGY: 'fastest' });
    const text = problems.join('\n');
    expect(text).toContain('PORT="abc"');
    expect(text).toContain('HERD_STRATEGY="fastest": HERD_STRATEGY must be one of ect');
    expect(text).toContain('[0].url="ftp://x": url must look like http://host:11434');
    expect(text).toContain('[1].slots=0');
    expect(text).toContain('[2].name=undefined');
    expect(problems.length).toBeGreaterThanOrEqual(5);
  });

  it('reports a missing file and invalid JSON clearly', () => {
    expect(problemsOf({ CONTAINERS_CONFIG: '/nonexistent/herd.json' })[0]).toMatch(/cannot read file/);
    expect(problemsOf({ CONTAINERS_CONFIG: fileWith('{not json') })[0]).toMatch(/not valid JSON/);
    expect(problemsOf({ CONTAINERS_CONFIG: fileWith('{"name":"a"}') })[0]).toMatch(/expected a JSON array/);
  });

  it('reads HERD_NODE_KEY and parses HERD_NODE_URL_ALLOW once, at start', () => {
    const path = fileWith('[]');
    const cfg = loadConfig({ CONTAINERS_CONFIG: path, HERD_ADMIN_KEY: 'admin-key-1', HERD_NODE_KEY: 'node-key-1', HERD_NODE_URL_ALLOW: '10.0.0.0/8, *.lab.internal' });
    expect(cfg.nodeKey).toBe('node-key-1');
    expect(cfg.nodeUrlAllow).toMatchObject({ ranges: [{ family: 4, prefix: 8 }], names: [], suffixes: ['.lab.internal'] });
    const defaults = loadConfig({ CONTAINERS_CONFIG: path });
    expect([defaults.nodeKey, defaults.nodeUrlAllow, defaults.adminKey]).toEqual([undefined, undefined, undefined]);
  });

  it('refuses a short node key, one equal to the admin key, and bad allow-list entries, naming each', () => {
    const path = fileWith('[]');
    expect(problemsOf({ CONTAINERS_CONFIG: path, HERD_NODE_KEY: 'short' })).toEqual(['HERD_NODE_KEY="short": HERD_NODE_KEY must be at least 8 characters']);
    expect(problemsOf({ CONTAINERS_CONFIG: path, HERD_NODE_KEY: 'same-key-1', HERD_ADMIN_KEY: 'same-key-1' })).toEqual([expect.stringMatching(/^HERD_NODE_KEY is the same as HERD_ADMIN_KEY/)]);
    const [problem] = problemsOf({ CONTAINERS_CONFIG: path, HERD_NODE_URL_ALLOW: '10.0.0.0/8, 10.0.0.0/33, gpu 1' });
    expect(problem).toMatch(/^HERD_NODE_URL_ALLOW="10\.0\.0\.0\/8, 10\.0\.0\.0\/33, gpu 1": HERD_NODE_URL_ALLOW must be comma-separated address ranges/);
    expect(problem).toContain('"10.0.0.0/33": the prefix length must be 0-32');
    expect(problem).toContain('"gpu 1": not an address range, an address or a host name');
  });

  it('reads HERD_REDIS_COMMAND_TIMEOUT_MS (default 1000 ms) and refuses a value too small to be safe', () => {
    const path = fileWith('[]');
    expect(loadConfig({ CONTAINERS_CONFIG: path }).redisCommandTimeoutMs).toBe(1000);
    expect(loadConfig({ CONTAINERS_CONFIG: path, HERD_REDIS_COMMAND_TIMEOUT_MS: '2500' }).redisCommandTimeoutMs).toBe(2500);
    expect(problemsOf({ CONTAINERS_CONFIG: path, HERD_REDIS_COMMAND_TIMEOUT_MS: '5' })).toEqual([expect.stringMatching(/^HERD_REDIS_COMMAND_TIMEOUT_MS="5": .*not be less than 50/)]);
  });

  it('reads the fair reserve (default on, window 30 s) and refuses a window out of range', () => {
    const path = fileWith('[]');
    const cfg = loadConfig({ CONTAINERS_CONFIG: path });
    expect([cfg.fairReserve, cfg.fairReserveWindowMs]).toEqual([true, 30_000]);
    const off = loadConfig({ CONTAINERS_CONFIG: path, HERD_FAIR_RESERVE: 'off', HERD_FAIR_RESERVE_WINDOW_MS: '5000' });
    expect([off.fairReserve, off.fairReserveWindowMs]).toEqual([false, 5000]);
    expect(problemsOf({ CONTAINERS_CONFIG: path, HERD_FAIR_RESERVE: 'yes' })).toEqual([expect.stringContaining('HERD_FAIR_RESERVE must be on or off')]);
    expect(problemsOf({ CONTAINERS_CONFIG: path, HERD_FAIR_RESERVE_WINDOW_MS: '10' })).toEqual([expect.stringMatching(/^HERD_FAIR_RESERVE_WINDOW_MS="10": .*not be less than 1000/)]);
  });

  it('rejects duplicate node names', () => {
    const path = fileWith('[{"name":"a","url":"http://h:1"},{"name":"a","url":"http://h:2"}]');
    expect(problemsOf({ CONTAINERS_CONFIG: path }).join()).toMatch(/duplicate node name/);
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses the node name %s, which would become an object key', (name) => {
    const path = fileWith(`[{"name":"${name}","url":"http://h:1"}]`);
    expect(problemsOf({ CONTAINERS_CONFIG: path }).join()).toMatch(/not __proto__, constructor or prototype/);
  });
});
