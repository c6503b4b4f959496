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
/** A tenant that had a request enqueued, started or finished this recently counts as active (slot reserve). */
export const ACTIVE_WINDOW_MS = 5000;

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Into the tenant's queue. A tenant that was not waiting is first lifted to the smallest counter among the
 * tenants waiting now, or to the counter of the tenant served last when nobody waits (scheduler/fair-order.ts).
 */
const ENQUEUE = `${NOW_MS}
redis.call('ZADD', KEYS[5], now, ARGV[2])
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
const LEAVE = `${NOW_MS}
local qk = ARGV[1] .. ARGV[2]
redis.call('ZREM', qk, ARGV[3])
if redis.call('ZCARD', qk) == 0 then redis.call('SREM', KEYS[1], ARGV[2]) end
if ARGV[4] ~= '' then
  local c = redis.call('HINCRBYFLOAT', KEYS[2], ARGV[2], ARGV[4])
  redis.call('SET', KEYS[3], c)
  redis.call('ZADD', KEYS[4], now, ARGV[2])
end
return 1`;

/** Charges (ARGV pairs tenant, cost) added to the counters; each such tenant was active just now. */
const CHARGE = `${NOW_MS}
for i = 1, #ARGV, 2 do
  redis.call('HINCRBYFLOAT', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[2], now, ARGV[i])
end
return 1`;

/**
 * The first ARGV[2] entries of every waiting tenant that BullMQ still has waiting (prioritized), with the
 * tenant's counter. Entries whose job is gone (finished or removed by a replica that died before cleaning up)
 * are dropped; entries whose job is taken or promoted are skipped. Also answers the job BullMQ would hand out
 * next and the tenants active within ARGV[4] ms: { promoted jobs waiting, id at the front of the prioritized
 * zset, { active tenants }, then tenant, counter, member, score, ... }.
 */
const CANDIDATES = `${NOW_MS}
local k = tonumber(ARGV[2])
local window = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - 10 * window)
local front = redis.call('ZRANGE', KEYS[3], 0, 0)
local out = { redis.call('LLEN', KEYS[4]), front[1] or '', redis.call('ZRANGEBYSCORE', KEYS[5], now - window, '+inf') }
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
  /** Tenants with a request enqueued, started or finished within ACTIVE_WINDOW_MS. */
  active: Set<string>;
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
    redis.defineCommand('herdFairEnqueue', { numberOfKeys: 5, lua: ENQUEUE });
    redis.defineCommand('herdFairLeave', { numberOfKeys: 4, lua: LEAVE });
    redis.defineCommand('herdFairCandidates', { numberOfKeys: 5, lua: CANDIDATES });
    redis.defineCommand('herdFairCharge', { numberOfKeys: 2, lua: CHARGE });
    redis.defineCommand('herdFairWaiting', { numberOfKeys: 1, lua: WAITING });
  }

  private call(name: string, ...args: (string | number)[]): Promise<unknown> {
    return runScript(this.redis, name, ...args);
  }

  /** A request starts waiting: into its tenant's queue, the tenant lifted when it was not waiting before. */
  async enqueued(entry: { requestId: string; tenant: string; model: string; priority: number }): Promise<void> {
    const k = this.keys;
    await this.call('herdFairEnqueue', k.fairActive, k.fairCounters, k.fairLastServed, k.fairSeq, k.fairSeen, k.fairQueuePrefix, entry.tenant, memberOf(entry), entry.priority);
  }

  /** A waiting request was taken for a slot: out of the index, and its estimated cost charged to its tenant now. */
  async taken(entry: { requestId: string; tenant: string; model: string }, cost: number): Promise<void> {
    const k = this.keys;
    await this.call('herdFairLeave', k.fairActive, k.fairCounters, k.fairLastServed, k.fairSeen, k.fairQueuePrefix, entry.tenant, memberOf(entry), String(cost));
  }

  /** A waiting request left without being served (canceled, timed out, failed): out of the index, no charge. */
  async withdrawn(entry: { requestId: string; tenant: string; model: string }): Promise<void> {
    const k = this.keys;
    await this.call('herdFairLeave', k.fairActive, k.fairCounters, k.fairLastServed, k.fairSeen, k.fairQueuePrefix, entry.tenant, memberOf(entry), '');
  }

  /**
   * Adds to a tenant's counter soon, with other charges in one round trip: the fast path's estimate (no waiting
   * request could have been ahead of it) and the correction once a request's real token counts are known.
   */
  charge(tenant: string, cost: number): void {
    if (!Number.isFinite(cost)) return;
    this.pending.set(tenant, (this.pending.get(tenant) ?? 0) + cost);
    this.flushTimer ??= setTimeout(() => void this.flush().catch(() => undefined), FLUSH_MS);
  }

  async flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.size === 0) return;
    const args: string[] = [];
    for (const [tenant, cost] of this.pending) args.push(tenant, String(cost));
    this.pending.clear();
    await this.call('herdFairCharge', this.keys.fairCounters, this.keys.fairSeen, ...args);
  }

  async onModuleDestroy(): Promise<void> {
    await this.flush().catch(() => undefined);
  }

  /** The first `perTenant` waiting requests of every tenant, with the counters and BullMQ's next job. */
  async candidates(perTenant: number): Promise<FairCandidates> {
    const k = this.keys;
    const waiting = k.queueWaiting;
    const out = (await this.call('herdFairCandidates', k.fairActive, k.fairCounters, waiting.zsets[0], waiting.lists[0], k.fairSeen, k.fairQueuePrefix, perTenant, k.jobKeyPrefix, ACTIVE_WINDOW_MS)) as (string | number | string[])[];
    const entries: FairEntry[] = [];
    const counters = new Map<string, number>();
    for (let i = 3; i + 3 < out.length; i += 4) {
      const tenant = String(out[i]);
      const member = String(out[i + 2]);
      const score = Number(out[i + 3]);
      counters.set(tenant, Number(out[i + 1]));
      const cut = member.indexOf(SEP);
      entries.push({ tenant, requestId: member.slice(0, cut), model: member.slice(cut + 1), priority: Math.floor(score / PRIORITY_SCALE), seq: score % PRIORITY_SCALE });
    }
    return { entries, counters, promoted: Number(out[0]), frontId: out[1] ? String(out[1]) : undefined, active: new Set((out[2] as string[]) ?? []) };
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
