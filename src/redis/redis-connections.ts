import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A connection Herd can use: one Redis server or a Redis Cluster (same commands, keys of one call in one slot). */
export type RedisLike = Redis | Cluster;

export type RedisRole = 'command' | 'worker' | 'subscriber';

/** Where Herd's Redis is: one server (URL) or the seed nodes of a cluster. */
export type RedisTarget = { kind: 'single'; url: string } | { kind: 'cluster'; nodes: { host: string; port: number }[] };

export class RedisUnreachableError extends Error {
  constructor(where: string, cause: string) {
    super(
      `Cannot reach Redis at ${where} (${cause}). Herd keeps its queue and fleet state in Redis: ` +
        'start Redis there, fix REDIS_URL or REDIS_CLUSTER_NODES, or unset them (and REDIS_HOST) to let Herd start its own redis-server.',
    );
  }
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

/** For logs and errors: the URL without its password, or the cluster's seed nodes. */
export function describeTarget(target: RedisTarget): string {
  return target.kind === 'single' ? redactUrl(target.url) : `cluster ${target.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
}

/**
 * Connection options per role. Commands on the request path fail fast while Redis is away (no offline queue),
 * so a client gets a quick 503 instead of a hang; BullMQ workers and subscribers retry forever.
 */
export function redisOptions(role: RedisRole): RedisOptions {
  const base: RedisOptions = {
    lazyConnect: true,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(50 * times, 1000),
  };
  switch (role) {
    case 'command':
      // Auto-pipelining sends the commands of many concurrent requests in one write.
      return { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: true };
    case 'worker':
    case 'subscriber':
      return { ...base, maxRetriesPerRequest: null };
  }
}

/**
 * The same roles on a cluster. Fail-fast and auto-pipelining are cluster-level settings there (ioredis keeps an
 * offline queue on each node connection while it dials, which is what a freshly discovered node needs); retries
 * per request are a node-level setting, which BullMQ checks for its blocking connection.
 */
export function clusterOptions(role: RedisRole): ClusterOptions {
  const { lazyConnect, connectTimeout, retryStrategy, enableOfflineQueue, enableAutoPipelining, maxRetriesPerRequest } = redisOptions(role);
  return {
    lazyConnect,
    clusterRetryStrategy: retryStrategy,
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableAutoPipelining: enableAutoPipelining ?? false,
    redisOptions: { connectTimeout, maxRetriesPerRequest },
  };
}

function open(target: RedisTarget, role: RedisRole, probe: boolean): RedisLike {
  if (target.kind === 'single') return new Redis(target.url, { ...redisOptions(role), ...(probe ? { retryStrategy: () => null } : {}) });
  const nodes: ClusterNode[] = target.nodes.map((n) => ({ host: n.host, port: n.port }));
  return new Cluster(nodes, { ...clusterOptions(role), ...(probe ? { clusterRetryStrategy: () => null } : {}) });
}

/** Opens a connection and proves it answers PING, or throws RedisUnreachableError with the reason. */
export async function connectRedis(target: RedisTarget, role: RedisRole): Promise<RedisLike> {
  const client = open(target, role, true);
  let lastError = 'no answer';
  client.on('error', (err: Error) => (lastError = err.message));
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw new RedisUnreachableError(describeTarget(target), (err as Error).message || lastError);
  }
  client.disconnect();
  const live = open(target, role, false);
  live.on('error', () => undefined); // reconnects are handled by ioredis; health reports the state
  await live.connect();
  return live;
}
