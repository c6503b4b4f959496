import { startHerd, type RunningHerd } from '../../src/bootstrap';
import type { HerdConfig, NodeConfig } from '../../src/config/herd-config';
import { Logger } from '../../src/common/logger';
import { uniquePrefix } from './redis';

export function nodeConfig(name: string, url: string, extra: Partial<NodeConfig> = {}): NodeConfig {
  return { name, url, slots: 1, weight: 1, labels: {}, ...extra };
}

/** Test replicas always name their Redis: a server URL or a cluster's seed nodes (never an embedded one). */
export type TestOverrides = Partial<HerdConfig> & { nodes: NodeConfig[] } & ({ redisUrl: string } | { redisClusterNodes: { host: string; port: number }[] });

export function testConfig(overrides: TestOverrides): HerdConfig {
  return {
    port: 0,
    host: '127.0.0.1',
    redisPrefix: uniquePrefix('herd'),
    redisCommandTimeoutMs: 1000,
    containersConfigPath: '(test)',
    strategy: 'ect',
    auth: 'off',
    fairShare: true,
    fairReserve: true,
    fairReserveWindowMs: 30_000,
    affinity: false,
    affinityTtlMs: 300_000,
    batchMaxRunning: 0,
    batchKeepFastest: 1,
    batchMaxLines: 50_000,
    batchMaxFileBytes: 100 * 1024 * 1024,
    jobResultTtlMs: 86_400_000,
    healthIntervalMs: 500,
    connectTimeoutMs: 500,
    firstByteTimeoutMs: 10_000,
    idleTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    queueTimeoutMs: 20_000,
    maxQueue: 1000,
    maxRetries: 2,
    leaseMs: 5000,
    heartbeatGraceMs: 60_000,
    bodyLimit: '10mb',
    maxQueuedBytes: 256 * 1024 * 1024,
    logLevel: 'error',
    logFormat: 'pretty',
    replicaId: uniquePrefix('replica'),
    ...overrides,
  };
}

/** An in-process Herd replica on a free port. */
export function startTestHerd(overrides: TestOverrides): Promise<RunningHerd> {
  const config = testConfig(overrides);
  return startHerd(config, new Logger(config.logLevel, 'pretty'));
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // leave empty: the test asserts on text
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
