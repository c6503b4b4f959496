import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { REDIS_COMMAND, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';
import { runScript } from '../redis/run-script';
import type { FairEntry } from '../scheduler/fair-order';
import type { RecentTenant } from '../scheduler/fair-reserve';

/** A member of a tenant's queue is `<request id>\n<model>` (neither holds a newline). */
const SEP = '\n';
/** Score of an entry: priority first, then arrival (priority x 1e12 + sequence stays an exact double). */
const PRIORITY_SCALE = 1e12;
/** How long charges made off the pump's path (fast path, settlements) wait to be sent together. */
const FLUSH_MS = 50;
/**
 * A running request's entry (fair reserve) expires this long after it was last written, by Redis' clock; the
 * replica holding the request rewrites it every RUN_REFRESH_MS until the request ends. A replica that dies
 * mid-request therefore leaves its requests counted as running for at most this long.
 */
const RUN_TTL_MS = 60_000;
const RUN_REFRESH_MS = RUN_TTL_MS / 3;
/** Tenants not seen for this long leave `fair:seen` (the longest HERD_FAIR_RESERVE_WINDOW_MS allowed). */
const SEEN_KEEP_MS = 3_600_000;
/** How many of the tenants seen within the window a script reports (the most recent first). */
const SEEN_SCAN = 32;

/** Redis' clock in ms, inside a script (as the lease scripts read it). */
const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;

/**
 * Appends to `out` the tenants seen (admitted a request) within `window` ms, most recent first, SEEN_SCAN at most,
 * as their count, then tenant, requests running, requests waiting and ms since seen for each. Needs `now`.
 */
const RECENT = (seenKey: string, qprefix: string, rprefix: string, window: string): string => `
local recent = redis.call('ZREVRANGEBYSCORE', ${seenKey}, '+inf', now - tonumber(${window}), 'WITHSCORES', 'LIMIT', 0, ${SEEN_SCAN})
table.insert(out, #recent / 2)
for i = 1, #recent, 2 do
  local u = recent[i]
  redis.call('ZREMRANGEBYSCORE', ${rprefix} .. u, '-inf', now)
  table.insert(out, u)
  table.insert(out, redis.call('ZCARD', ${rprefix} .. u))
  table.insert(out, redis.call('ZCARD', ${qprefix} .. u))
  table.insert(out, now - tonumber(recent[i + 1]))
end`;

/**
 * Into the tenant's queue, and the tenant marked seen now (fair reserve). A tenant that was not waiting is first
 * lifted to the smallest counter among the tenants waiting now, or to the counter of the tenant served last when
 * nobody waits (scheduler/fair-order.ts).
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
${NOW}
redis.call('ZADD', KEYS[5], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - ${SEEN_KEEP_MS})
return seq`;

/**
 * Out of the index; with ARGV[4] a charge (the request was taken for a slot), added to the tenant's counter, and
 * the request counted as running (ARGV[5] prefix of the tenants' running zsets, ARGV[6] request id).
 */
const LEAVE = `
local qk = ARGV[1] .. ARGV[2]
redis.call('ZREM', qk, ARGV[3])
if redis.call('ZCARD', qk) == 0 then redis.call('SREM', KEYS[1], ARGV[2]) end
if ARGV[4] ~= '' then
  local c = redis.call('HINCRBYFLOAT', KEYS[2], ARGV[2], ARGV[4])
  redis.call('SET', KEYS[3], c)
  ${NOW}
  redis.call('ZADD', ARGV[5] .. ARGV[2], now + ${RUN_TTL_MS}, ARGV[6])
end
return 1`;

/**
 * The first ARGV[2] entries of every waiting tenant that BullMQ still has waiting (prioritized), with the
 * tenant's counter. Entries whose job is gone (finished or removed by a replica that died before cleaning up)
 * are dropped; entries whose job is taken or promoted are skipped. Also answers the job BullMQ would hand out
 * next, and for the fair reserve (ARGV[5] window ms, 0: off) the tenants seen lately and each waiting tenant's
 * running requests (zsets at ARGV[4]): { promoted jobs waiting, id at the front of the prioritized zset, recent
 * tenants (see RECENT), then tenant, counter, running, member, score, ... }.
 */
const CANDIDATES = `
local k = tonumber(ARGV[2])
local reserve = tonumber(ARGV[5]) > 0
${NOW}
local front = redis.call('ZRANGE', KEYS[3], 0, 0)
local out = { redis.call('LLEN', KEYS[4]), front[1] or '' }
if reserve then
  ${RECENT('KEYS[5]', 'ARGV[1]', 'ARGV[4]', 'ARGV[5]')}
else
  table.insert(out, 0)
end
for _, t in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local qk = ARGV[1] .. t
  local entries = redis.call('ZRANGE', qk, 0, k * 4 - 1, 'WITHSCORES')
  if #entries == 0 then
    redis.call('SREM', KEYS[1], t)
  else
    local c = redis.call('HGET', KEYS[2], t) or '0'
    local running = 0
    if reserve then
      redis.call('ZREMRANGEBYSCORE', ARGV[4] .. t, '-inf', now)
      running = redis.call('ZCARD', ARGV[4] .. t)
    end
    local n = 0
    for i = 1, #entries, 2 do
      local member = entries[i]
      local id = string.sub(member, 1, string.find(member, '\\n', 1, true) - 1)
      if redis.call('ZSCORE', KEYS[3], id) then
        table.insert(out, t)
        table.insert(out, c)
        table.insert(out, running)
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

/**
 * The fair reserve's inputs for one request being placed (ARGV[3] tenant, ARGV[4] its id): its tenant's other
 * running requests, then the tenants seen within ARGV[5] ms (see RECENT).
 */
const RESERVE_STATE = `
${NOW}
local rk = ARGV[2] .. ARGV[3]
redis.call('ZREMRANGEBYSCORE', rk, '-inf', now)
local running = redis.call('ZCARD', rk)
if redis.call('ZSCORE', rk, ARGV[4]) then running = running - 1 end
local out = { running }
${RECENT('KEYS[1]', 'ARGV[1]', 'ARGV[2]', 'ARGV[5]')}
return out`;

/** The tenants seen within ARGV[3] ms (see RECENT), for the fast path's view of the fair reserve. ARGV[1..2] the waiting and running prefixes. */
const RECENT_ONLY = `
${NOW}
local out = {}
${RECENT('KEYS[1]', 'ARGV[1]', 'ARGV[2]', 'ARGV[3]')}
return out`;

/**
 * One tenant's bookkeeping off the pump's path, batched: ARGV[3] added to its counter ('' for none), with ARGV[4]
 * '1' the tenant marked seen now, then per request '+<id>' (running: written, or rewritten to expire RUN_TTL_MS from
 * now) or '-<id>' (ended), in order. ARGV[1] prefix of the running zsets, ARGV[2] tenant.
 */
const BOOK = `
${NOW}
if ARGV[3] ~= '' then redis.call('HINCRBYFLOAT', KEYS[1], ARGV[2], ARGV[3]) end
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[2], now, ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ${SEEN_KEEP_MS})
end
local rk = ARGV[1] .. ARGV[2]
for i = 5, #ARGV do
  local op, id = string.sub(ARGV[i], 1, 1), string.sub(ARGV[i], 2)
  if op == '+' then redis.call('ZADD', rk, now + ${RUN_TTL_MS}, id) else redis.call('ZREM', rk, id) end
end
return 1`;

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
  /** Fair reserve: requests running per waiting tenant (empty when the reserve is off). */
  running: Map<string, number>;
  /** Fair reserve: the tenants seen within the window, most recent first (empty when the reserve is off). */
  recent: RecentTenant[];
}

/** The fair reserve's inputs for one request (scheduler/fair-reserve.ts). */
export interface ReserveState {
  /** Its tenant's running requests, this one aside. */
  running: number;
  recent: RecentTenant[];
}

interface Booking {
  cost: number;
  seen: boolean;
  /** '+<id>' running (again), '-<id>' ended, in order. */
  runs: string[];
}

type TicketLike = { requestId: string; tenant: string; model: string };

/**
 * The fair-share index beside BullMQ's queue: per tenant, its waiting requests in priority and arrival order,
 * and per tenant a virtual token counter (see scheduler/fair-order.ts). BullMQ still holds the jobs, their
 * locks and the stalled-job recovery; the index only tells the pump which waiting job to promote and take next.
 * For the fair reserve it also keeps when each tenant last admitted a request (zset `fair:seen`, Redis ms) and
 * each tenant's running requests (zset `fair:run:<tenant>`, member request id, score expiry; rewritten by the
 * replica holding the request, see RUN_TTL_MS).
 * All keys share the queue's hash tag, so on a Redis Cluster the scripts run in one slot.
 */
@Injectable()
export class FairShareRepository implements OnModuleDestroy {
  private readonly pending = new Map<string, Booking>();
  private flushTimer?: NodeJS.Timeout;
  private flushSoon = false;
  /** Requests of this replica's clients that hold a slot: request id -> tenant (their running entries are rewritten here). */
  private readonly mine = new Map<string, string>();
  private readonly refresher: NodeJS.Timeout;
  private readonly seenKey: string;
  private readonly runPrefix: string;

  constructor(
    @Inject(REDIS_COMMAND) private readonly redis: RedisLike,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('herdFairEnqueue', { numberOfKeys: 5, lua: ENQUEUE });
    redis.defineCommand('herdFairLeave', { numberOfKeys: 3, lua: LEAVE });
    redis.defineCommand('herdFairCandidates', { numberOfKeys: 5, lua: CANDIDATES });
    redis.defineCommand('herdFairReserveState', { numberOfKeys: 1, lua: RESERVE_STATE });
    redis.defineCommand('herdFairRecent', { numberOfKeys: 1, lua: RECENT_ONLY });
    redis.defineCommand('herdFairBook', { numberOfKeys: 2, lua: BOOK });
    redis.defineCommand('herdFairWaiting', { numberOfKeys: 1, lua: WAITING });
    // Beside `fair:counters`, under the same hash tag.
    const base = keys.fairCounters.slice(0, -'counters'.length);
    this.seenKey = `${base}seen`;
    this.runPrefix = `${base}run:`;
    this.refresher = setInterval(() => this.refreshRunning(), RUN_REFRESH_MS);
    this.refresher.unref();
  }

  private call(name: string, ...args: (string | number)[]): Promise<unknown> {
    return runScript(this.redis, name, ...args);
  }

  /** A request starts waiting: into its tenant's queue (the tenant lifted when it was not waiting), the tenant marked seen. */
  async enqueued(entry: { requestId: string; tenant: string; model: string; priority: number }): Promise<void> {
    const k = this.keys;
    await this.call('herdFairEnqueue', k.fairActive, k.fairCounters, k.fairLastServed, k.fairSeq, this.seenKey, k.fairQueuePrefix, entry.tenant, memberOf(entry), entry.priority);
  }

  /**
   * A waiting request was taken for a slot: out of the index, its estimated cost charged to its tenant now, and it
   * counts as running (until its replica says it ended, or its entry expires).
   */
  async taken(entry: TicketLike, cost: number): Promise<void> {
    const k = this.keys;
    await this.call('herdFairLeave', k.fairActive, k.fairCounters, k.fairLastServed, k.fairQueuePrefix, entry.tenant, memberOf(entry), String(cost), this.runPrefix, entry.requestId);
  }

  /** A waiting request left without being served (canceled, timed out, failed): out of the index, no charge. */
  async withdrawn(entry: TicketLike): Promise<void> {
    const k = this.keys;
    await this.call('herdFairLeave', k.fairActive, k.fairCounters, k.fairLastServed, k.fairQueuePrefix, entry.tenant, memberOf(entry), '', this.runPrefix, entry.requestId);
  }

  /**
   * A request got a slot without waiting (the fast path): its estimate charged, its tenant seen now, and it counts
   * as running, sent with the next batch, or once this turn of the event loop is done when `soon` (its tenant has
   * other requests under way, so the pump may soon have to count them for the fair reserve). (Batch lines are none
   * of this: QueueService leaves them out.)
   */
  started(ticket: TicketLike, cost: number, soon = false): void {
    this.mine.set(ticket.requestId, ticket.tenant);
    const b = this.booking(ticket.tenant);
    if (Number.isFinite(cost)) b.cost += cost;
    b.seen = true;
    b.runs.push(`+${ticket.requestId}`);
    this.schedule(soon);
  }

  /** The grant of a queued request reached its replica: its running entry (written when taken) is kept fresh here. */
  granted(ticket: TicketLike): void {
    this.mine.set(ticket.requestId, ticket.tenant);
  }

  /**
   * A request that held a slot ended (or its slot went unused): no longer running. With requests waiting (`urgent`)
   * it is sent at once with whatever is pending (its settlement among them), not after the batching delay: its
   * tenant's next request, sent as soon as this one is answered, would still find it running and be kept from the
   * slot it just freed. With nothing waiting nobody reads it soon, and it goes with the next batch.
   */
  ended(ticket: TicketLike, urgent = true): void {
    this.mine.delete(ticket.requestId);
    this.booking(ticket.tenant).runs.push(`-${ticket.requestId}`);
    this.schedule(urgent);
  }

  /**
   * Adds to a tenant's counter soon, with other charges in one round trip: the correction once a request's real
   * token counts are known.
   */
  charge(tenant: string, cost: number): void {
    if (!Number.isFinite(cost) || cost === 0) return;
    this.booking(tenant).cost += cost;
    this.schedule();
  }

  private booking(tenant: string): Booking {
    let b = this.pending.get(tenant);
    if (!b) this.pending.set(tenant, (b = { cost: 0, seen: false, runs: [] }));
    return b;
  }

  /** Sends what is pending after the batching delay, or `soon`: once this turn of the event loop is done. */
  private schedule(soon = false): void {
    if (soon && !this.flushSoon) {
      this.flushSoon = true;
      setImmediate(() => {
        this.flushSoon = false;
        void this.flush().catch(() => undefined);
      });
    }
    this.flushTimer ??= setTimeout(() => void this.flush().catch(() => undefined), FLUSH_MS);
  }

  /** Rewrites the running entries of this replica's requests, so they outlive their TTL while they run. */
  private refreshRunning(): void {
    if (this.mine.size === 0) return;
    for (const [id, tenant] of this.mine) this.booking(tenant).runs.push(`+${id}`);
    void this.flush().catch(() => undefined);
  }

  async flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.size === 0) return;
    const bookings = [...this.pending];
    this.pending.clear();
    const pipe = this.redis.pipeline() as unknown as Record<string, (...args: (string | number)[]) => unknown> & { exec(): Promise<unknown> };
    for (const [tenant, b] of bookings) {
      pipe.herdFairBook(this.keys.fairCounters, this.seenKey, this.runPrefix, tenant, b.cost !== 0 ? b.cost : '', b.seen ? '1' : '', ...b.runs);
    }
    await pipe.exec();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.refresher);
    await this.flush().catch(() => undefined);
  }

  /**
   * The first `perTenant` waiting requests of every tenant, with the counters and BullMQ's next job; with
   * `reserveWindowMs` > 0 also what the fair reserve needs (running requests per waiting tenant, the tenants seen
   * within the window).
   */
  async candidates(perTenant: number, reserveWindowMs = 0): Promise<FairCandidates> {
    const k = this.keys;
    const waiting = k.queueWaiting;
    const out = (await this.call(
      'herdFairCandidates',
      k.fairActive,
      k.fairCounters,
      waiting.zsets[0],
      waiting.lists[0],
      this.seenKey,
      k.fairQueuePrefix,
      perTenant,
      k.jobKeyPrefix,
      this.runPrefix,
      reserveWindowMs,
    )) as (string | number)[];
    const entries: FairEntry[] = [];
    const counters = new Map<string, number>();
    const running = new Map<string, number>();
    const { recent, next } = readRecent(out, 2);
    for (let i = next; i + 4 < out.length; i += 5) {
      const tenant = String(out[i]);
      const member = String(out[i + 3]);
      const score = Number(out[i + 4]);
      counters.set(tenant, Number(out[i + 1]));
      if (reserveWindowMs > 0) running.set(tenant, Number(out[i + 2]));
      const cut = member.indexOf(SEP);
      entries.push({ tenant, requestId: member.slice(0, cut), model: member.slice(cut + 1), priority: Math.floor(score / PRIORITY_SCALE), seq: score % PRIORITY_SCALE });
    }
    return { entries, counters, promoted: Number(out[0]), frontId: out[1] ? String(out[1]) : undefined, running, recent };
  }

  /** The fair reserve's inputs for one request being placed: its tenant's other running requests, the tenants seen lately. */
  async reserveState(ticket: TicketLike, windowMs: number): Promise<ReserveState> {
    const out = (await this.call('herdFairReserveState', this.seenKey, this.keys.fairQueuePrefix, this.runPrefix, ticket.tenant, ticket.requestId, windowMs)) as (string | number)[];
    return { running: Math.max(0, Number(out[0])), recent: readRecent(out, 1).recent };
  }

  /** The tenants seen within `windowMs`, with how long ago each was seen (ms). */
  async recentTenants(windowMs: number): Promise<(RecentTenant & { agoMs: number })[]> {
    const out = (await this.call('herdFairRecent', this.seenKey, this.keys.fairQueuePrefix, this.runPrefix, windowMs)) as (string | number)[];
    return readRecent(out, 0).recent;
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

/** The tenants RECENT wrote from `at` on, and where the script's answer goes on. */
function readRecent(out: (string | number)[], at: number): { recent: (RecentTenant & { agoMs: number })[]; next: number } {
  const n = Number(out[at] ?? 0);
  const recent: (RecentTenant & { agoMs: number })[] = [];
  for (let i = 0; i < n; i++) {
    const j = at + 1 + 4 * i;
    recent.push({ tenant: String(out[j]), running: Number(out[j + 1]), waiting: Number(out[j + 2]), agoMs: Number(out[j + 3]) });
  }
  return { recent, next: at + 1 + 4 * n };
}

function memberOf(entry: { requestId: string; model: string }): string {
  return `${entry.requestId}${SEP}${entry.model}`;
}
