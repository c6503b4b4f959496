import { Inject, Injectable } from '@nestjs/common';
import { REDIS_COMMAND, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';
import { runScript } from '../redis/run-script';
import { LUA_COMMON } from './work-scripts';

/** The two lanes of durable work: batch lines (the batch lane) and async jobs (the interactive lane). */
export type WorkLane = 'batch' | 'jobs';

/** One piece of work a runner holds: its member, the token of its lease, and how many attempts failed before. */
export interface Claim {
  member: string;
  token: string;
  tries: number;
}

/**
 * Claims due work while fewer than ARGV[1] (the lane's cap, across all replicas) are running. First, work whose
 * lease expired (its runner died or lost Redis) goes back to ready, counted as a failed attempt. ARGV[4] lets
 * work due within that many ms be taken early (a slot was just freed). Answers { ms until the next ready work is
 * due (-1: none), member, token, tries, ... }.
 */
const CLAIM = `${LUA_COMMON}
local ready, running, holders, tries, owners, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
for _, m in ipairs(redis.call('ZRANGEBYSCORE', running, '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('ZREM', running, m)
  redis.call('HDEL', holders, m)
  redis.call('HINCRBY', tries, m, 1)
  dropOwner(owners, m)
  redis.call('ZADD', ready, ms(now), m)
end
local out = {}
local n = math.min(tonumber(ARGV[1]) - redis.call('ZCARD', running), tonumber(ARGV[3]))
if n > 0 then
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', ready, '-inf', now + tonumber(ARGV[4]), 'LIMIT', 0, n)) do
    local token = tostring(redis.call('INCR', seq))
    redis.call('ZREM', ready, m)
    redis.call('ZADD', running, ms(now + tonumber(ARGV[2])), m)
    redis.call('HSET', holders, m, token)
    redis.call('HINCRBY', owners, ownerOf(m), 1)
    table.insert(out, m)
    table.insert(out, token)
    table.insert(out, redis.call('HGET', tries, m) or '0')
  end
end
local first = redis.call('ZRANGE', ready, 0, 0, 'WITHSCORES')
table.insert(out, 1, first[2] and ms(math.max(0, tonumber(first[2]) - now)) or '-1')
return out`;

/** Extends a lease the token still holds: 1, or 0 when it was lost. */
const RENEW = `${LUA_COMMON}
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], 'XX', ms(now + tonumber(ARGV[3])), ARGV[1])
return 1`;

/** Back to ready, due in ARGV[3] ms; ARGV[4] = '1' counts a failed attempt. 0 when the lease was lost. */
const GIVE_BACK = `${LUA_COMMON}
if release(KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2], false) == 0 then return 0 end
if ARGV[4] == '1' then redis.call('HINCRBY', KEYS[4], ARGV[1], 1) end
redis.call('ZADD', KEYS[1], ms(now + tonumber(ARGV[3])), ARGV[1])
return 1`;

/** Lets go of work that needs no result (its batch stopped, its job was canceled or is gone). */
const DROP = `${LUA_COMMON}
return release(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2], true)`;

/** Takes work out of ready before anybody claims it (a canceled job, a stopped batch's lines): how many were. */
const WITHDRAW = `
local n = 0
for i = 1, #ARGV do
  n = n + redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
end
return n`;

/**
 * The durable work queue of one lane, shared by every replica's runner (see RedisKeys.work). Work is claimed under
 * a lease the runner renews; a runner that dies loses its leases and its work is claimed again elsewhere.
 */
@Injectable()
export class WorkRepository {
  constructor(
    @Inject(REDIS_COMMAND) private readonly redis: RedisLike,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('herdWorkClaim', { numberOfKeys: 6, lua: CLAIM });
    redis.defineCommand('herdWorkRenew', { numberOfKeys: 2, lua: RENEW });
    redis.defineCommand('herdWorkGiveBack', { numberOfKeys: 5, lua: GIVE_BACK });
    redis.defineCommand('herdWorkDrop', { numberOfKeys: 4, lua: DROP });
    redis.defineCommand('herdWorkWithdraw', { numberOfKeys: 2, lua: WITHDRAW });
  }

  async claim(lane: WorkLane, cap: number, leaseMs: number, max: number, earlyMs: number): Promise<{ claims: Claim[]; nextDueMs: number }> {
    const k = this.keys.work(lane);
    const out = (await runScript(this.redis, 'herdWorkClaim', k.ready, k.running, k.holders, k.tries, k.owners, k.seq, cap, leaseMs, max, earlyMs)) as string[];
    const claims: Claim[] = [];
    for (let i = 1; i + 2 < out.length; i += 3) claims.push({ member: String(out[i]), token: String(out[i + 1]), tries: Number(out[i + 2]) });
    return { claims, nextDueMs: Number(out[0]) };
  }

  async renew(lane: WorkLane, claim: Claim, leaseMs: number): Promise<boolean> {
    const k = this.keys.work(lane);
    return (await runScript(this.redis, 'herdWorkRenew', k.running, k.holders, claim.member, claim.token, leaseMs)) === 1;
  }

  async giveBack(lane: WorkLane, claim: Claim, delayMs: number, failed: boolean): Promise<void> {
    const k = this.keys.work(lane);
    await runScript(this.redis, 'herdWorkGiveBack', k.ready, k.running, k.holders, k.tries, k.owners, claim.member, claim.token, Math.max(0, Math.round(delayMs)), failed ? '1' : '0');
  }

  async drop(lane: WorkLane, claim: Claim): Promise<void> {
    const k = this.keys.work(lane);
    await runScript(this.redis, 'herdWorkDrop', k.running, k.holders, k.tries, k.owners, claim.member, claim.token);
  }

  /** Takes members out of ready in chunks (those already claimed are left to their runners). */
  async withdraw(lane: WorkLane, members: string[]): Promise<void> {
    const k = this.keys.work(lane);
    for (let i = 0; i < members.length; i += 1000) await runScript(this.redis, 'herdWorkWithdraw', k.ready, k.tries, ...members.slice(i, i + 1000));
  }

  /** Work of the lane waiting to be claimed (ready, or given back until later) and running now, all replicas. */
  async counts(lane: WorkLane): Promise<{ ready: number; running: number }> {
    const k = this.keys.work(lane);
    const [ready, running] = await Promise.all([this.redis.zcard(k.ready), this.redis.zcard(k.running)]);
    return { ready, running };
  }

  /** Work running now in the lane (all replicas). */
  async runningCount(lane: WorkLane): Promise<number> {
    return this.redis.zcard(this.keys.work(lane).running);
  }
}
