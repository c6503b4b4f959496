import type { ChainableCommander } from 'ioredis';
import type { RedisLike } from '../redis/redis-connections';
import type { RedisKeys } from '../redis/redis-keys';

/** Takes a slot on a node if one is free. Expired leases (their replica died) are dropped first. */
const RESERVE = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
  redis.call('HDEL', KEYS[2], unpack(expired))
end
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
return 1`;

/** Gives a slot back and tells every replica that a slot on this node is free. */
const RELEASE = `
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if removed == 1 then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return removed`;

/** Live leases of one node with what each carries ("tokens:startedAt:estimateMs"). */
const LOAD = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))`;

/**
 * Tokens a running request still has to process, assuming it progresses evenly over its estimated time.
 * A request past its estimate still counts a tenth: it is running late, not finished.
 */
export function remainingTokens(lease: string | null, now: number): number {
  if (!lease) return 0;
  const [tokens, startedAt, estimateMs] = lease.split(':').map(Number);
  if (!Number.isFinite(tokens)) return 0;
  if (!Number.isFinite(startedAt) || !Number.isFinite(estimateMs) || estimateMs <= 0) return tokens;
  const left = 1 - (now - startedAt) / estimateMs;
  return tokens * Math.max(0.1, Math.min(1, left));
}

export interface NodeLoad {
  inFlight: number;
  backlogTokens: number;
}

/**
 * Slot accounting in Redis, shared by every replica. A reservation is a lease with an expiry: the replica
 * running the request renews it, so a replica that dies cannot keep a slot for longer than one lease.
 */
export class LedgerRepository {
  constructor(
    private readonly redis: RedisLike,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('herdReserve', { numberOfKeys: 2, lua: RESERVE });
    redis.defineCommand('herdRelease', { numberOfKeys: 2, lua: RELEASE });
    redis.defineCommand('herdLoad', { numberOfKeys: 2, lua: LOAD });
  }

  private call(name: string, ...args: (string | number)[]): Promise<unknown> {
    const fn = (this.redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name];
    return fn.apply(this.redis, args);
  }

  async reserve(node: string, requestId: string, slots: number, tokens: number, estimateMs: number, leaseMs: number, now = Date.now()): Promise<boolean> {
    const carried = `${Math.round(tokens)}:${now}:${Math.round(estimateMs)}`;
    const ok = await this.call('herdReserve', this.keys.leases(node), this.keys.leaseTokens(node), now, now + leaseMs, slots, requestId, carried);
    return ok === 1;
  }

  async release(node: string, requestId: string): Promise<boolean> {
    const removed = await this.call('herdRelease', this.keys.leases(node), this.keys.leaseTokens(node), requestId, this.keys.freedChannel, node);
    return removed === 1;
  }

  /** Extends the leases still held (a lease already gone stays gone: ZADD XX). */
  async renew(leases: { node: string; requestId: string }[], leaseMs: number, now = Date.now()): Promise<void> {
    if (leases.length === 0) return;
    if (this.redis.isCluster) {
      // Each node's leases live in their own slot: one ZADD each (auto-pipelining batches them per cluster node).
      await Promise.all(leases.map((l) => this.redis.zadd(this.keys.leases(l.node), 'XX', now + leaseMs, l.requestId)));
      return;
    }
    const pipe = this.redis.pipeline();
    for (const l of leases) pipe.zadd(this.keys.leases(l.node), 'XX', now + leaseMs, l.requestId);
    await pipe.exec();
  }

  /** In-flight and backlog for each node, in one round trip. */
  async loads(nodes: string[], now = Date.now()): Promise<Map<string, NodeLoad>> {
    return (await this.loadsAndWaiting(nodes, undefined, now)).loads;
  }

  /**
   * Loads plus, in the same round trip, how many requests wait ahead of a newcomer: jobs in the queue's
   * waiting keys and placements under way. Zero means a new request may skip the queue.
   *
   * On a single Redis this is one pipeline. On a cluster a pipeline must stay in one slot, so each node's load is
   * its own call and the queue counts (all under the shared hash tag) one pipeline, all sent in parallel.
   */
  async loadsAndWaiting(nodes: string[], queue: { zsets: string[]; lists: string[] } | undefined, now = Date.now()): Promise<{ loads: Map<string, NodeLoad>; waiting: number; queued: number; placing: number }> {
    const loads = new Map<string, NodeLoad>();
    if (nodes.length === 0 && !queue) return { loads, waiting: 0, queued: 0, placing: 0 };
    let leaseLists: (string | null)[][];
    let counts: number[];
    if (this.redis.isCluster) {
      [leaseLists, counts] = await Promise.all([
        Promise.all(nodes.map((n) => this.call('herdLoad', this.keys.leases(n), this.keys.leaseTokens(n), now) as Promise<(string | null)[]>)),
        queue ? execAll(this.queueCounts(this.redis.pipeline(), queue, now)).then((r) => r.map(Number)) : Promise.resolve([]),
      ]);
    } else {
      const pipe = this.redis.pipeline();
      for (const n of nodes) this.loadOf(pipe, n, now);
      if (queue) this.queueCounts(pipe, queue, now);
      const results = await execAll(pipe);
      leaseLists = results.slice(0, nodes.length) as (string | null)[][];
      counts = results.slice(nodes.length).map(Number);
    }
    nodes.forEach((n, i) => {
      const leases = leaseLists[i];
      loads.set(n, { inFlight: leases.length, backlogTokens: leases.reduce((sum, l) => sum + remainingTokens(l, now), 0) });
    });
    // The queue counts end with the placing count.
    const queued = counts.slice(0, -1).reduce((sum, c) => sum + c, 0);
    const placing = counts.length > 0 ? counts[counts.length - 1] : 0;
    return { loads, waiting: queued + placing, queued, placing };
  }

  private loadOf(pipe: ChainableCommander, node: string, now: number): void {
    (pipe as unknown as Record<string, (...a: (string | number)[]) => void>).herdLoad(this.keys.leases(node), this.keys.leaseTokens(node), now);
  }

  private queueCounts(pipe: ChainableCommander, queue: { zsets: string[]; lists: string[] }, now: number): ChainableCommander {
    for (const z of queue.zsets) pipe.zcard(z);
    for (const l of queue.lists) pipe.llen(l);
    return pipe.zcount(this.keys.placing, now, '+inf');
  }

  /** Marks a request as being placed by a worker until `expiresAt` (renewed while it waits). */
  async markPlacing(requestId: string, expiresAt: number): Promise<void> {
    await this.redis.zadd(this.keys.placing, expiresAt, requestId);
  }

  async unmarkPlacing(requestId: string, now = Date.now()): Promise<void> {
    await this.redis.pipeline().zrem(this.keys.placing, requestId).zremrangebyscore(this.keys.placing, '-inf', now).exec();
  }
}

async function execAll(pipe: ChainableCommander): Promise<unknown[]> {
  const results = (await pipe.exec()) ?? [];
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
