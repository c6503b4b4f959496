import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { REDIS_COMMAND, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';
import { runScript } from '../redis/run-script';
import type { FairEntry } from '../scheduler/fair-order';

/** A member of a tenant's queue is `<request id>\n<model>` (neither holds a newline). */
const SEP = '\n';
/** Score of an entry: priority first, then arrival (priority x 1e12 + sequence stays an exact double). */
const PRIORITY_SCALE = 1e12;
/** How long charges made off the pump's path (fast path, settlements) wait to be sent together. */
const FLUSH_MS = 50;

/**
 * Into the tenant's queue. A tenant that was not waiting is first lifted to the smallest counter among the
 * tenants waiting now, or to the counter of the tenant served last when nobody waits (scheduler/fair-order.ts).
 */
const ENQUEUE = `
local qk = ARGV[1] .. ARGV[2]
if redis.call('ZCARD', qk) == 0 then
  local own = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
  local floor = nil
  for _, t in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    if t ~= ARGV[2] and redis.call('ZCARD', ARGV[1] .. t) > 0 then
      local c = tonumber(redis.call('HGET', KEYS[2], t) or '0')
      if floor == nil or c < floor then floor = c end
    end
  end
  if floor == nil then floor = tonumber(redis.call('GET', KEYS[3]) or '0') end
  if floor > own then redis.call('HSET', KEYS[2], ARGV[2], string.format('%.17g', floor)) end
end
local seq = redis.call('INCR', KEYS[4])
redis.call('ZADD', qk, string.format('%d', tonumber(ARGV[4]) * ${PRIORITY_SCALE} + seq), ARGV[3])
redis.call('SADD', KEYS[1], ARGV[2])
return seq`;

/** Out of the index; with ARGV[4] a charge (the request was taken for a slot), added to the tenant's counter. */
const LEAVE = `
local qk = ARGV[1] .. ARGV[2]
redis.call('ZREM', qk, ARGV[3])
if redis.call('ZCARD', qk) == 0 then redis.call('SREM', KEYS[1], ARGV[2]) end
if ARGV[4] ~= '' then
  local c = redis.call('HINCRBYFLOAT', KEYS[2], ARGV[2], ARGV[4])
  redis.call('SET', KEYS[3], c)
end
return 1`;

/**
 * The first ARGV[2] entries of every waiting tenant that BullMQ still has waiting (prioritized), with the
 * tenant's counter. Entries whose job is gone (finished or removed by a replica that died before cleaning up)
 * are dropped; entries whose job is taken or promoted are skipped. Also answers the job BullMQ would hand out
 * next: { promoted jobs waiting, id at the front of the prioritized zset, then tenant, counter, member, score, ... }.
 */
const CANDIDATES = `
local k = tonumber(ARGV[2])
local front = redis.call('ZRANGE', KEYS[3], 0, 0)
local out = { redis.call('LLEN', KEYS[4]), front[1] or '' }
for _, t in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local qk = ARGV[1] .. t
  local entries = redis.call('ZRANGE', qk, 0, k * 4 - 1, 'WITHSCORES')
  if #entries == 0 then
    redis.call('SREM', KEYS[1], t)
  else
    local c = redis.call('HGET', KEYS[2], t) or '0'
    local n = 0
    for i = 1, #entries, 2 do
      local member = entries[i]
      local id = string.sub(member, 1, string.find(member, '\\n', 1, true) - 1)
      if redis.call('ZSCORE', KEYS[3], id) then
        table.insert(out, t)
        table.insert(out, c)
        table.insert(out, member)
        table.insert(out, entries[i + 1])
        n = n + 1
        if n >= k then break end
      elseif redis.call('EXISTS', ARGV[3] .. id) == 0 then
        redis.call('ZREM', qk, member)
      end
    end
    if redis.call('ZCARD', qk) == 0 then redis.call('SREM', KEYS[1], t) end
  end
end
return out`;

/** { tenant, waiting count, ... } for every tenant in the index. */
const WAITING = `
local out = {}
for _, t in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  table.insert(out, t)
  table.insert(out, redis.call('ZCARD', ARGV[1] .. t))
end
return out`;

/** What the pump needs to choose fairly: the candidates, their tenants' counters and BullMQ's next job. */
export interface FairCandidates {
  entries: FairEntry[];
  counters: Map<string, number>;
  /** Promoted jobs BullMQ hands out before any prioritized one. */
  promoted: number;
  /** The prioritized job BullMQ hands out next when none is promoted. */
  frontId?: string;
}

/**
 * The fair-share index beside BullMQ's queue: per tenant, its waiting requests in priority and arrival order,
 * and per tenant a virtual token counter (see scheduler/fair-order.ts). BullMQ still holds the jobs, their
 * locks and the stalled-job recovery; the index only tells the pump which waiting job to promote and take next.
 * All keys share the queue's hash tag, so on a Redis Cluster the scripts run in one slot.
 */
@Injectable()
export class FairShareRepository implements OnModuleDestroy {
  private readonly pending = new Map<string, number>();
  private flushTimer?: NodeJS.Timeout;

  constructor(
    @Inject(REDIS_COMMAND) private readonly redis: RedisLike,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('herdFairEnqueue', { numberOfKeys: 4, lua: ENQUEUE });
    redis.defineCommand('herdFairLeave', { numberOfKeys: 3, lua: LEAVE });
    redis.defineCommand('herdFairCandidates', { numberOfKeys: 4, lua: CANDIDATES });
    redis.defineCommand('herdFairWaiting', { numberOfKeys: 1, lua: WAITING });
  }

  private call(name: string, ...args: (string | number)[]): Promise<unknown> {
    return runScript(this.redis, name, ...args);
  }

  /** A request starts waiting: into its tenant's queue, the tenant lifted when it was not waiting before. */
  async enqueued(entry: { requestId: string; tenant: string; model: string; priority: number }): Promise<void> {
    const k = this.keys;
    await this.call('herdFairEnqueue', k.fairActive, k.fairCounters, k.fairLastServed, k.fairSeq, k.fairQueuePrefix, entry.tenant, memberOf(entry), entry.priority);
  }

  /** A waiting request was taken for a slot: out of the index, and its estimated cost charged to its tenant now. */
  async taken(entry: { requestId: string; tenant: string; model: string }, cost: number): Promise<void> {
    const k = this.keys;
    await this.call('herdFairLeave', k.fairActive, k.fairCounters, k.fairLastServed, k.fairQueuePrefix, entry.tenant, memberOf(entry), String(cost));
  }

  /** A waiting request left without being served (canceled, timed out, failed): out of the index, no charge. */
  async withdrawn(entry: { requestId: string; tenant: string; model: string }): Promise<void> {
    const k = this.keys;
    await this.call('herdFairLeave', k.fairActive, k.fairCounters, k.fairLastServed, k.fairQueuePrefix, entry.tenant, memberOf(entry), '');
  }

  /**
   * Adds to a tenant's counter soon, with other charges in one round trip: the fast path's estimate (no waiting
   * request could have been ahead of it) and the correction once a request's real token counts are known.
   */
  charge(tenant: string, cost: number): void {
    if (!Number.isFinite(cost) || cost === 0) return;
    this.pending.set(tenant, (this.pending.get(tenant) ?? 0) + cost);
    this.flushTimer ??= setTimeout(() => void this.flush().catch(() => undefined), FLUSH_MS);
  }

  async flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.size === 0) return;
    const charges = [...this.pending];
    this.pending.clear();
    const pipe = this.redis.pipeline();
    for (const [tenant, cost] of charges) pipe.hincrbyfloat(this.keys.fairCounters, tenant, cost);
    await pipe.exec();
  }

  async onModuleDestroy(): Promise<void> {
    await this.flush().catch(() => undefined);
  }

  /** The first `perTenant` waiting requests of every tenant, with the counters and BullMQ's next job. */
  async candidates(perTenant: number): Promise<FairCandidates> {
    const k = this.keys;
    const waiting = k.queueWaiting;
    const out = (await this.call('herdFairCandidates', k.fairActive, k.fairCounters, waiting.zsets[0], waiting.lists[0], k.fairQueuePrefix, perTenant, k.jobKeyPrefix)) as (string | number)[];
    const entries: FairEntry[] = [];
    const counters = new Map<string, number>();
    for (let i = 2; i + 3 < out.length; i += 4) {
      const tenant = String(out[i]);
      const member = String(out[i + 2]);
      const score = Number(out[i + 3]);
      counters.set(tenant, Number(out[i + 1]));
      const cut = member.indexOf(SEP);
      entries.push({ tenant, requestId: member.slice(0, cut), model: member.slice(cut + 1), priority: Math.floor(score / PRIORITY_SCALE), seq: score % PRIORITY_SCALE });
    }
    return { entries, counters, promoted: Number(out[0]), frontId: out[1] ? String(out[1]) : undefined };
  }

  /** Tenants with requests waiting, and how many each. */
  async waitingByTenant(): Promise<Map<string, number>> {
    const out = (await this.call('herdFairWaiting', this.keys.fairActive, this.keys.fairQueuePrefix)) as (string | number)[];
    const byTenant = new Map<string, number>();
    for (let i = 0; i + 1 < out.length; i += 2) if (Number(out[i + 1]) > 0) byTenant.set(String(out[i]), Number(out[i + 1]));
    return byTenant;
  }

  /** Every tenant's counter (for the dashboard and tests). */
  async counters(): Promise<Map<string, number>> {
    const all = await this.redis.hgetall(this.keys.fairCounters);
    return new Map(Object.entries(all).map(([t, c]) => [t, Number(c)]));
  }
}

function memberOf(entry: { requestId: string; model: string }): string {
  return `${entry.requestId}${SEP}${entry.model}`;
}
