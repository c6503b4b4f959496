import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { HerdEnv } from './env.dto';
import { NodeConfigDto } from './node-config.dto';
import type { LogFormat, LogLevel } from '../common/logger';
import type { HerdConfig, NodeConfig } from './herd-config';
import type { StrategyName } from '../scheduler/scheduler.types';
import { parseNodeUrlAllow } from '../security/node-url-allow';

/** Thrown with every configuration problem at once, so one start tells the operator everything to fix. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function describe(errors: ValidationError[], where: string, source: Record<string, unknown>): string[] {
  return errors.flatMap((e) =>
    Object.values(e.constraints ?? {}).map(
      (msg) => `${where}${e.property}=${JSON.stringify(source[e.property])}: ${msg}`,
    ),
  );
}

export function parseNodes(raw: unknown, where: string): { nodes: NodeConfig[]; problems: string[] } {
  if (!Array.isArray(raw)) {
    return { nodes: [], problems: [`${where}: expected a JSON array of nodes like [{"name": "gpu-1", "url": "http://host:11434"}]`] };
  }
  const problems: string[] = [];
  const nodes: NodeConfig[] = [];
  const seen = new Set<string>();
  raw.forEach((entry: unknown, i) => {
    const at = `${where}[${i}].`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${where}[${i}]: expected an object with name and url`);
      return;
    }
    const dto = plainToInstance(NodeConfigDto, entry);
    const errors = validateSync(dto, { forbidUnknownValues: false });
    problems.push(...describe(errors, at, entry as Record<string, unknown>));
    if (errors.length) return;
    if (seen.has(dto.name)) problems.push(`${at}name=${JSON.stringify(dto.name)}: duplicate node name`);
    seen.add(dto.name);
    nodes.push({
      name: dto.name,
      url: dto.url.replace(/\/$/, ''),
      slots: dto.slots ?? 1,
      weight: dto.weight ?? 1,
      memoryGb: dto.memoryGb,
      tokensPerSecond: dto.tokensPerSecond,
      promptCacheEntries: dto.promptCacheEntries,
      labels: dto.labels ?? {},
    });
  });
  return { nodes, problems };
}

function redisUrlFrom(env: HerdEnv): string | undefined {
  if (env.REDIS_URL) return env.REDIS_URL;
  if (env.REDIS_HOST) return `redis://${env.REDIS_HOST}:${env.REDIS_PORT ?? 6379}`;
  return undefined;
}

/** `host:port,host:port` as seed nodes; the format was validated by HerdEnv. */
export function parseClusterNodes(raw: string): { host: string; port: number }[] {
  return raw.split(',').map((entry) => {
    const [host, port] = entry.trim().split(':');
    return { host, port: Number(port) };
  });
}

/** Reads and validates process.env and the containers file. Throws ConfigError listing every problem. */
export function loadConfig(rawEnv: NodeJS.ProcessEnv = process.env): HerdConfig {
  const envSource = Object.fromEntries(Object.entries(rawEnv).filter(([, v]) => v !== ''));
  const env = plainToInstance(HerdEnv, envSource);
  const problems = describe(validateSync(env, { forbidUnknownValues: false }), '', envSource);

  const clusterNodes = env.REDIS_CLUSTER_NODES && !problems.some((p) => p.startsWith('REDIS_CLUSTER_NODES=')) ? parseClusterNodes(env.REDIS_CLUSTER_NODES) : undefined;
  for (const n of clusterNodes ?? []) {
    if (n.port < 1 || n.port > 65535) problems.push(`REDIS_CLUSTER_NODES=${JSON.stringify(env.REDIS_CLUSTER_NODES)}: port ${n.port} of ${n.host} is not 1-65535`);
  }
  if (env.REDIS_CLUSTER_NODES && (env.REDIS_URL || env.REDIS_HOST)) {
    problems.push('REDIS_CLUSTER_NODES is set together with REDIS_URL/REDIS_HOST: set one (the cluster seed nodes, or a single server)');
  }

  if (env.HERD_NODE_KEY && env.HERD_NODE_KEY === env.HERD_ADMIN_KEY) {
    problems.push('HERD_NODE_KEY is the same as HERD_ADMIN_KEY: give nodes their own key, so a node\'s credential cannot change the fleet');
  }

  const containersConfigPath = resolve(env.CONTAINERS_CONFIG ?? './containers.config.json');
  let nodes: NodeConfig[] = [];
  let text: string | undefined;
  try {
    text = readFileSync(containersConfigPath, 'utf8');
  } catch (err) {
    problems.push(`CONTAINERS_CONFIG=${JSON.stringify(containersConfigPath)}: cannot read file (${(err as Error).message})`);
  }
  if (text !== undefined) {
    try {
      const parsed = parseNodes(JSON.parse(text), containersConfigPath);
      nodes = parsed.nodes;
      problems.push(...parsed.problems);
    } catch (err) {
      problems.push(`${containersConfigPath}: not valid JSON (${(err as Error).message})`);
    }
  }
  if (problems.length) throw new ConfigError(problems);

  return {
    port: env.PORT ?? 3000,
    host: env.HOST ?? '0.0.0.0',
    redisUrl: clusterNodes ? undefined : redisUrlFrom(env),
    redisClusterNodes: clusterNodes,
    redisPrefix: env.HERD_REDIS_PREFIX ?? 'herd',
    // Herd's commands answer in well under 10 ms on a healthy Redis, even under load: a second of silence means
    // Redis is stuck, and a client is better served by a 503 after ~1 s than by a hang.
    redisCommandTimeoutMs: env.HERD_REDIS_COMMAND_TIMEOUT_MS ?? 1000,
    containersConfigPath,
    nodes,
    strategy: (env.HERD_STRATEGY ?? 'ect') as StrategyName,
    auth: env.HERD_AUTH === 'keys' ? 'keys' : 'off',
    fairShare: env.HERD_FAIR_SHARE !== 'off',
    fairReserve: env.HERD_FAIR_RESERVE !== 'off',
    // Longer than a person's pause between two chat turns, so an interactive tenant keeps the fast slot between its
    // requests; short enough that a burst gets the whole fleet back half a minute after the others went quiet.
    fairReserveWindowMs: env.HERD_FAIR_RESERVE_WINDOW_MS ?? 30_000,
    affinity: env.HERD_AFFINITY === 'on',
    affinityTtlMs: env.HERD_AFFINITY_TTL_MS ?? 300_000,
    batchMaxRunning: env.HERD_BATCH_MAX_RUNNING ?? 0,
    batchKeepFastest: env.HERD_BATCH_KEEP_FASTEST ?? 1,
    batchMaxLines: env.HERD_BATCH_MAX_LINES ?? 50_000,
    batchMaxFileBytes: env.HERD_BATCH_MAX_FILE_BYTES ?? 100 * 1024 * 1024,
    jobResultTtlMs: env.HERD_JOB_RESULT_TTL_MS ?? 86_400_000,
    healthIntervalMs: env.HERD_HEALTH_INTERVAL_MS ?? 5000,
    connectTimeoutMs: env.HERD_CONNECT_TIMEOUT_MS ?? 2000,
    firstByteTimeoutMs: env.HERD_FIRST_BYTE_TIMEOUT_MS ?? 120_000,
    idleTimeoutMs: env.HERD_IDLE_TIMEOUT_MS ?? 60_000,
    requestTimeoutMs: env.HERD_REQUEST_TIMEOUT_MS ?? 600_000,
    queueTimeoutMs: env.HERD_QUEUE_TIMEOUT_MS ?? 300_000,
    maxQueue: env.HERD_MAX_QUEUE ?? 1000,
    maxRetries: env.HERD_MAX_RETRIES ?? 2,
    leaseMs: env.HERD_LEASE_MS ?? 15_000,
    heartbeatGraceMs: env.HERD_HEARTBEAT_GRACE_MS ?? 60_000,
    bodyLimit: env.HERD_BODY_LIMIT ?? '50mb',
    maxQueuedBytes: parseBytes(env.HERD_MAX_QUEUED_BYTES ?? '256mb'),
    logLevel: (env.LOG_LEVEL ?? 'info') as LogLevel,
    logFormat: (env.LOG_FORMAT ?? (rawEnv.NODE_ENV === 'production' ? 'json' : 'pretty')) as LogFormat,
    adminKey: env.HERD_ADMIN_KEY,
    nodeKey: env.HERD_NODE_KEY,
    nodeUrlAllow: env.HERD_NODE_URL_ALLOW ? parseNodeUrlAllow(env.HERD_NODE_URL_ALLOW).allow : undefined,
    replicaId: env.HERD_REPLICA_ID ?? `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`,
  };
}

/** For entry points: the validated config, or the list of problems on stderr and exit code 1. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): HerdConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`herd: ${err.message}\n`);
    process.exit(1);
  }
}

/** `50mb` -> bytes (the format HERD_BODY_LIMIT uses; already checked by the env DTO). */
export function parseBytes(text: string): number {
  const m = /^(\d+)(b|kb|mb|gb)$/i.exec(text);
  if (!m) throw new Error(`not a size: ${text}`);
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[m[2].toLowerCase() as 'b' | 'kb' | 'mb' | 'gb'];
  return Number(m[1]) * unit;
}
