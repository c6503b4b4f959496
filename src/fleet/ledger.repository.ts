import { Inject, Injectable } from '@nestjs/common';
import type { ChainableCommander } from 'ioredis';
import { REDIS_COMMAND, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';
import { runScript } from '../redis/run-script';

/**
 * Every lease and placing mark expires by Redis' clock (TIME inside the script), never a replica's: replicas
 * whose clocks disagree still agree on which slots are held. The milliseconds line is shared by every script.
 */
const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Takes a slot on a node if one is free. Expired leases (their replica died) are dropped first.
 * KEYS[1..2] the node's leases and lease tokens; ARGV[1..5] leaseMs, slots, request id, tokens, estimateMs.
 */
const RESERVE_FN = `local function reserve()
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
  if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
    redis.call('HDEL', KEYS[2], unpack(expired))
  end
  if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4] .. ':' .. string.format('%d', now) .. ':' .. ARGV[5])
  return 1
end
`;

const RESERVE = `${NOW_MS}${RESERVE_FN}return reserve()`;

/**
 * The fast path in one round trip: how many wait ahead (queued jobs, placements under way), every candidate's
 * leases (read before anything changes, as loadsAndWaiting would read them), and, only when nobody waits, the
 * reservation of RESERVE on the node chosen beforehand (none when ARGV[2], its slots, is 0). KEYS: that node's two keys, the placing zset, then
 * ARGV[6] queue zsets and ARGV[7] queue lists, then each candidate's two keys. Answers
 * { reserved (0/1), waiting, Redis' clock, leases of candidate 1, leases of candidate 2, ... }.
 */
const RESERVE_IF_IDLE = `${NOW_MS}${RESERVE_FN}
local nz = tonumber(ARGV[6])
local nl = tonumber(ARGV[7])
local waiting = redis.call('ZCOUNT', KEYS[3], now, '+inf')
for i = 1, nz do waiting = waiting + redis.call('ZCARD', KEYS[3 + i]) end
for i = 1, nl do waiting = waiting + redis.call('LLEN', KEYS[3 + nz + i]) end
local out = { 0, waiting, string.format('%d', now) }
for i = 4 + nz + nl, #KEYS, 2 do
  local ids = redis.call('ZRANGEBYSCORE', KEYS[i], now, '+inf')
  if #ids == 0 then table.insert(out, {}) else table.insert(out, redis.call('HMGET', KEYS[i + 1], unpack(ids))) end
end
if waiting == 0 and tonumber(ARGV[2]) > 0 then out[1] = reserve() end
return out`;

/** Rewrites the estimate a lease carries (its start time unchanged), if the lease is still held. */
const RESTAMP = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) return 1 end
return 0`;

/** Extends the leases still held on one node (a lease already gone stays gone: ZADD XX). */
const RENEW = `${NOW_MS}
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i]) end
return #ARGV - 1`;

/** Gives a slot back and tells every replica that a slot on this node is free. */
const RELEASE = `
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if removed == 1 then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return removed`;

/** Redis' time, then what each live lease of one node carries ("tokens:startedAt:estimateMs"). */
const LOAD = `${NOW_MS}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
if #ids == 0 then return { string.format('%d', now) } end
local out = redis.call('HMGET', KEYS[2], unpack(ids))
table.insert(out, 1, string.format('%d', now))
return out`;

/**
 * A worker is placing this request (for this model) until TTL ms from now (renewed while it waits). When ARGV[4] is
 * a token, the pump turn (KEYS[3]) held under it ends too: the mark now claims the slot the choice was for.
 */
const MARK_PLACING = `${NOW_MS}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then redis.call('DEL', KEYS[3]) end
return 1`;

/** Ends the pump turn held under token ARGV[1] (never another replica's). */
const END_TURN = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** The models of the placements under way (marks not yet expired). */
const PLACING_MODELS = `${NOW_MS}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
if #ids == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(ids))`;

/** A placement ended: drop its mark, and any marks that expired (their worker died). */
const UNMARK_PLACING = `${NOW_MS}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('HDEL', KEYS[2], unpack(expired))
end
return 1`;

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

/** What the queue pump and the fast path read of the fleet's slots and the queue (LedgerRepository.loadsAndWaiting). */
export interface LoadsAndWaiting {
  loads: Map<string, NodeLoad>;
  /** Jobs waiting plus placements under way: zero means a new request may skip the queue. */
  waiting: number;
  queued: number;
  placing: number;
  placingModels: string[];
}

export interface NodeLoad {
  inFlight: number;
  backlogTokens: number;
}

/**
 * Slot accounting in Redis, shared by every replica. A reservation is a lease with an expiry: the replica
 * running the request renews it, so a replica that dies cannot keep a slot for longer than one lease.
 */
@Injectable()
export class LedgerRepository {
  constructor(
    @Inject(REDIS_COMMAND) private readonly redis: RedisLike,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('herdReserve', { numberOfKeys: 2, lua: RESERVE });
    redis.defineCommand('herdReserveIfIdle', { lua: RESERVE_IF_IDLE });
    redis.defineCommand('herdRestamp', { numberOfKeys: 2, lua: RESTAMP });
    redis.defineCommand('herdRenew', { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand('herdRelease', { numberOfKeys: 2, lua: RELEASE });
    redis.defineCommand('herdLoad', { numberOfKeys: 2, lua: LOAD });
    // A fixed key count: on a cluster, ioredis auto-pipelines a command by its first argument, which must be a key.
    redis.defineCommand('herdMarkPlacing', { numberOfKeys: 3, lua: MARK_PLACING });
    redis.defineCommand('herdEndTurn', { numberOfKeys: 1, lua: END_TURN });
    redis.defineCommand('herdPlacingModels', { numberOfKeys: 2, lua: PLACING_MODELS });
    redis.defineCommand('herdUnmarkPlacing', { numberOfKeys: 2, lua: UNMARK_PLACING });
  }

  private call(name: string, ...args: (string | number)[]): Promise<unknown> {
    return runScript(this.redis, name, ...args);
  }

  async reserve(node: string, requestId: string, slots: number, tokens: number, estimateMs: number, leaseMs: number): Promise<boolean> {
    const ok = await this.call('herdReserve', this.keys.leases(node), this.keys.leaseTokens(node), leaseMs, slots, requestId, Math.round(tokens), Math.round(estimateMs));
    return ok === 1;
  }

  /**
   * Loads and waiting in the same round trip as a reservation on `node`, made only when nobody waits ahead and
   * the node has a free slot (see RESERVE_IF_IDLE). The loads are those seen before the reservation. Undefined on
   * a Redis Cluster, where the candidates' keys live in different slots: use loadsAndWaiting and reserve there.
   */
  async reserveIfIdle(
    node: string,
    candidates: string[],
    queue: { zsets: string[]; lists: string[] },
    lease: { requestId: string; slots: number; tokens: number; estimateMs: number; leaseMs: number },
  ): Promise<{ reserved: boolean; waiting: number; redisNow: number; loads: Map<string, NodeLoad> } | undefined> {
    if (this.redis.isCluster) return undefined;
    const keys = [this.keys.leases(node), this.keys.leaseTokens(node), this.keys.placing, ...queue.zsets, ...queue.lists];
    for (const n of candidates) keys.push(this.keys.leases(n), this.keys.leaseTokens(n));
    const args = [lease.leaseMs, lease.slots, lease.requestId, Math.round(lease.tokens), Math.round(lease.estimateMs), queue.zsets.length, queue.lists.length];
    const out = (await this.call('herdReserveIfIdle', keys.length, ...keys, ...args)) as unknown[];
    const redisNow = Number(out[2]);
    const loads = new Map<string, NodeLoad>();
    candidates.forEach((n, i) => {
      const leases = (out[3 + i] ?? []) as (string | null)[];
      loads.set(n, { inFlight: leases.length, backlogTokens: leases.reduce((sum, l) => sum + remainingTokens(l, redisNow), 0) });
    });
    return { reserved: out[0] === 1, waiting: Number(out[1]), redisNow, loads };
  }

  /** Gives a held lease the estimate it should carry (tokens:startedAt:estimateMs as RESERVE writes it). */
  async restamp(node: string, requestId: string, tokens: number, startedAt: number, estimateMs: number): Promise<void> {
    await this.call('herdRestamp', this.keys.leases(node), this.keys.leaseTokens(node), requestId, `${Math.round(tokens)}:${Math.round(startedAt)}:${Math.round(estimateMs)}`);
  }

  async release(node: string, requestId: string): Promise<boolean> {
    const removed = await this.call('herdRelease', this.keys.leases(node), this.keys.leaseTokens(node), requestId, this.keys.freedChannel, node);
    return removed === 1;
  }

  /** Extends the leases still held, one script call per node (each node's leases live in their own slot). */
  async renew(leases: { node: string; requestId: string }[], leaseMs: number): Promise<void> {
    if (leases.length === 0) return;
    const byNode = new Map<string, string[]>();
    for (const l of leases) {
      const ids = byNode.get(l.node);
      if (ids) ids.push(l.requestId);
      else byNode.set(l.node, [l.requestId]);
    }
    if (this.redis.isCluster) {
      await Promise.all([...byNode].map(([node, ids]) => this.call('herdRenew', this.keys.leases(node), leaseMs, ...ids)));
      return;
    }
    const pipe = this.redis.pipeline() as unknown as Record<string, (...a: (string | number)[]) => void> & ChainableCommander;
    for (const [node, ids] of byNode) pipe.herdRenew(this.keys.leases(node), leaseMs, ...ids);
    await execAll(pipe);
  }

  /** In-flight and backlog for each node, in one round trip. */
  async loads(nodes: string[]): Promise<Map<string, NodeLoad>> {
    return (await this.loadsAndWaiting(nodes, undefined)).loads;
  }

  /**
   * Loads plus, in the same round trip, how many requests wait ahead of a newcomer: jobs in the queue's
   * waiting keys and placements under way. Zero means a new request may skip the queue.
   *
   * On a single Redis this is one pipeline. On a cluster a pipeline must stay in one slot, so each node's load is
   * its own call and the queue counts (all under the shared hash tag) one pipeline, all sent in parallel.
   */
  async loadsAndWaiting(nodes: string[], queue: { zsets: string[]; lists: string[] } | undefined): Promise<LoadsAndWaiting> {
    return (await this.read(nodes, queue)).state;
  }

  /**
   * The pump turn (see takePumpTurn) and, read right after it, loadsAndWaiting: one round trip on a single Redis
   * (one pipeline, run in order), two on a cluster. The state is read whether or not the turn was taken.
   */
  async pumpTurnAndLoads(token: string, ms: number, nodes: string[], queue: { zsets: string[]; lists: string[] }): Promise<{ turn: boolean; state: LoadsAndWaiting }> {
    if (this.redis.isCluster) {
      const turn = await this.takePumpTurn(token, ms);
      return { turn, state: await this.loadsAndWaiting(nodes, queue) };
    }
    const { first, state } = await this.read(nodes, queue, (pipe) => pipe.set(this.keys.pumpTurn, token, 'PX', ms, 'NX'));
    return { turn: first === 'OK', state };
  }

  private async read(nodes: string[], queue: { zsets: string[]; lists: string[] } | undefined, before?: (pipe: ChainableCommander) => void): Promise<{ first?: unknown; state: LoadsAndWaiting }> {
    const loads = new Map<string, NodeLoad>();
    if (nodes.length === 0 && !queue && !before) return { state: { loads, waiting: 0, queued: 0, placing: 0, placingModels: [] } };
    let leaseLists: (string | null)[][];
    let counts: unknown[];
    let first: unknown;
    if (this.redis.isCluster) {
      [leaseLists, counts] = await Promise.all([
        Promise.all(nodes.map((n) => this.call('herdLoad', this.keys.leases(n), this.keys.leaseTokens(n)) as Promise<(string | null)[]>)),
        queue ? execAll(this.queueCounts(this.redis.pipeline(), queue)) : Promise.resolve([]),
      ]);
    } else {
      const pipe = this.redis.pipeline();
      if (before) before(pipe);
      for (const n of nodes) this.loadOf(pipe, n);
      if (queue) this.queueCounts(pipe, queue);
      const results = await execAll(pipe);
      if (before) first = results.shift();
      leaseLists = results.slice(0, nodes.length) as (string | null)[][];
      counts = results.slice(nodes.length);
    }
    nodes.forEach((n, i) => {
      // The first entry is Redis' clock, which stamped the leases' start times.
      const [now, ...leases] = leaseLists[i];
      const redisNow = Number(now);
      loads.set(n, { inFlight: leases.length, backlogTokens: leases.reduce((sum, l) => sum + remainingTokens(l, redisNow), 0) });
    });
    // The queue counts end with the models of the placements under way.
    const queued = counts.slice(0, -1).reduce<number>((sum, c) => sum + Number(c), 0);
    const placingModels = counts.length > 0 ? ((counts[counts.length - 1] as (string | null)[]) ?? []).map((m) => m ?? '') : [];
    return { first, state: { loads, waiting: queued + placingModels.length, queued, placing: placingModels.length, placingModels } };
  }

  private loadOf(pipe: ChainableCommander, node: string): void {
    (pipe as unknown as Record<string, (...a: (string | number)[]) => void>).herdLoad(this.keys.leases(node), this.keys.leaseTokens(node));
  }

  private queueCounts(pipe: ChainableCommander, queue: { zsets: string[]; lists: string[] }): ChainableCommander {
    for (const z of queue.zsets) pipe.zcard(z);
    for (const l of queue.lists) pipe.llen(l);
    (pipe as unknown as Record<string, (...a: string[]) => void>).herdPlacingModels(this.keys.placing, this.keys.placingModels);
    return pipe;
  }

  /**
   * Marks a request for `model` as being placed by a worker for the next `ttlMs` (renewed while it waits); with
   * `turnToken`, also ends the pump turn held under it (same round trip).
   */
  async markPlacing(requestId: string, model: string, ttlMs: number, turnToken?: string): Promise<void> {
    await this.call('herdMarkPlacing', this.keys.placing, this.keys.placingModels, this.keys.pumpTurn, ttlMs, requestId, model, turnToken ?? '');
  }

  /**
   * The turn to choose the next job from the queue, held by one replica's pump at a time for at most `ms` (a pump
   * that dies holding it blocks the others that long). Two pumps woken by the same freed slot would otherwise both
   * see it free and take a job each, one of which then waits for a slot outside the queue.
   */
  async takePumpTurn(token: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.keys.pumpTurn, token, 'PX', ms, 'NX')) === 'OK';
  }

  async endPumpTurn(token: string): Promise<void> {
    await this.call('herdEndTurn', this.keys.pumpTurn, token);
  }

  async unmarkPlacing(requestId: string): Promise<void> {
    await this.call('herdUnmarkPlacing', this.keys.placing, this.keys.placingModels, requestId);
  }
}

async function execAll(pipe: ChainableCommander): Promise<unknown[]> {
  const results = (await pipe.exec()) ?? [];
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
