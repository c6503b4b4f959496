import { Cluster, Command, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';

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
 *
 * A Redis that stops answering without closing the socket (paused, overloaded) is the other way to hang: every
 * command of the 'command' and 'worker' roles is given up after `commandTimeoutMs` ("Command timed out"). The
 * worker role is safe with it because Herd takes jobs without blocking (getNextJob with block:false), so BullMQ
 * never sends a blocking BZPOPMIN that would outlast the timeout. Subscribers send nothing but (UN)SUBSCRIBE.
 */
export function redisOptions(role: RedisRole, commandTimeoutMs?: number): RedisOptions {
  const base: RedisOptions = {
    lazyConnect: true,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(50 * times, 1000),
  };
  const timeout = commandTimeoutMs !== undefined ? { commandTimeout: commandTimeoutMs } : {};
  switch (role) {
    case 'command':
      // Auto-pipelining sends the commands of many concurrent requests in one write.
      return { ...base, ...timeout, enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: true };
    case 'worker':
      return { ...base, ...timeout, maxRetriesPerRequest: null };
    case 'subscriber':
      return { ...base, maxRetriesPerRequest: null };
  }
}

/**
 * The same roles on a cluster. Fail-fast and auto-pipelining are cluster-level settings there (ioredis keeps an
 * offline queue on each node connection while it dials, which is what a freshly discovered node needs); retries
 * per request are a node-level setting, which BullMQ checks for its blocking connection. The command timeout is
 * node-level too: a cluster sends each command through the node connection that owns its slot.
 */
export function clusterOptions(role: RedisRole, commandTimeoutMs?: number): ClusterOptions {
  const { lazyConnect, connectTimeout, retryStrategy, enableOfflineQueue, enableAutoPipelining, maxRetriesPerRequest, commandTimeout } = redisOptions(role, commandTimeoutMs);
  return {
    lazyConnect,
    clusterRetryStrategy: retryStrategy,
    enableOfflineQueue: enableOfflineQueue ?? true,
    enableAutoPipelining: enableAutoPipelining ?? false,
    redisOptions: { connectTimeout, maxRetriesPerRequest, ...(commandTimeout !== undefined ? { commandTimeout } : {}) },
  };
}

function open(target: RedisTarget, role: RedisRole, probe: boolean, commandTimeoutMs?: number): RedisLike {
  if (target.kind === 'single') return new Redis(target.url, { ...redisOptions(role, commandTimeoutMs), ...(probe ? { retryStrategy: () => null } : {}) });
  const nodes: ClusterNode[] = target.nodes.map((n) => ({ host: n.host, port: n.port }));
  return new Cluster(nodes, { ...clusterOptions(role, commandTimeoutMs), ...(probe ? { clusterRetryStrategy: () => null } : {}) });
}

/**
 * Opens a connection and proves it answers PING, or throws RedisUnreachableError with the reason.
 * `commandTimeoutMs` bounds every command of the 'command' and 'worker' roles (see redisOptions).
 */
export async function connectRedis(target: RedisTarget, role: RedisRole, commandTimeoutMs?: number): Promise<RedisLike> {
  const client = open(target, role, true, commandTimeoutMs);
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
  const live = open(target, role, false, commandTimeoutMs);
  live.on('error', () => undefined); // reconnects are handled by ioredis; health reports the state
  await live.connect();
  return live;
}

/**
 * PING that every part of Herd's Redis answers: the server, or every master of a cluster (one stuck master
 * stalls the requests whose keys live there, so it counts as Redis not answering).
 *
 * Sent straight to the socket, past auto-pipelining: ioredis sends one auto-pipeline per connection at a time,
 * so a PING queued behind a pipeline that Redis never answers would only be sent (and its command timeout only
 * start) once that pipeline timed out, noticing a stuck Redis after twice the timeout instead of once.
 */
export async function pingRedis(redis: RedisLike): Promise<void> {
  const targets: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  if (targets.length === 0) throw new Error('no cluster master is connected');
  await Promise.all(
    targets.map((t) => {
      const ping = new Command('ping', []);
      t.sendCommand(ping);
      return ping.promise;
    }),
  );
}

/** Injection tokens of the four connections (see RedisConnections). */
export const REDIS_COMMAND = Symbol('REDIS_COMMAND');
export const REDIS_SUBSCRIBER = Symbol('REDIS_SUBSCRIBER');
export const REDIS_PRODUCER = Symbol('REDIS_PRODUCER');
export const REDIS_WORKER = Symbol('REDIS_WORKER');

/**
 * Herd's connections to Redis, each proven to answer before anything else starts: commands of the request path,
 * pub/sub (subscriber), BullMQ's producer and its worker. Opened before Nest, handed to it as values
 * (RedisModule), closed after Nest has closed.
 */
export class RedisConnections {
  private constructor(
    readonly command: RedisLike,
    readonly subscriber: RedisLike,
    readonly producer: RedisLike,
    readonly worker: RedisLike,
    /** A Redis Cluster (shared keys then carry a hash tag: see RedisKeys). */
    readonly cluster: boolean,
  ) {}

  /** Opens every connection, or throws RedisUnreachableError. `commandTimeoutMs` bounds each command (see redisOptions). */
  static async open(target: RedisTarget, commandTimeoutMs: number): Promise<RedisConnections> {
    const command = await connectRedis(target, 'command', commandTimeoutMs);
    const [subscriber, producer, worker] = await Promise.all([
      connectRedis(target, 'subscriber'),
      connectRedis(target, 'command', commandTimeoutMs),
      connectRedis(target, 'worker', commandTimeoutMs),
    ]);
    return new RedisConnections(command, subscriber, producer, worker, target.kind === 'cluster');
  }

  disconnect(): void {
    for (const c of [this.command, this.subscriber, this.producer, this.worker]) c.disconnect();
  }
}
