import { Inject, Injectable } from '@nestjs/common';
import { REDIS_COMMAND, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';
import { runScript } from '../redis/run-script';

/**
 * Fixed windows by Redis' clock (TIME inside the script), so replicas whose clocks disagree still count the same
 * window. A key's hash holds only the current window: w (its number), r (requests), t (tokens); a new window
 * starts both counts at 0. The hash expires two windows after its last write.
 */
const WINDOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local span = tonumber(ARGV[1])
local window = string.format('%d', math.floor(now / span))
local left = span - now % span
if redis.call('HGET', KEYS[1], 'w') ~= window then redis.call('HSET', KEYS[1], 'w', window, 'r', 0, 't', 0) end
redis.call('PEXPIRE', KEYS[1], span * 2)
`;

/**
 * ARGV: window ms, rpm (0: none), tpm (0: none). Counts one request unless the window is full; answers
 * { 1 counted | 0 over rpm | 2 over tpm, ms until the window ends }. A refused request is not counted, so a
 * client that keeps retrying is let in again as soon as the window turns.
 */
const TAKE = `${WINDOW}
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
if rpm > 0 and tonumber(redis.call('HGET', KEYS[1], 'r')) >= rpm then return { 0, left } end
if tpm > 0 and tonumber(redis.call('HGET', KEYS[1], 't')) >= tpm then return { 2, left } end
redis.call('HINCRBY', KEYS[1], 'r', 1)
return { 1, left }`;

/** ARGV: window ms, tokens. Charges tokens of a finished request to the current window. */
const CHARGE = `${WINDOW}
redis.call('HINCRBY', KEYS[1], 't', tonumber(ARGV[2]))
return 1`;

export type RateVerdict = { allowed: true } | { allowed: false; limit: 'rpm' | 'tpm'; msLeft: number };

/** Per-key request and token counts of the current window, shared by every replica. */
@Injectable()
export class RateLimitRepository {
  constructor(
    @Inject(REDIS_COMMAND) private readonly redis: RedisLike,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('herdKeyRateTake', { numberOfKeys: 1, lua: TAKE });
    redis.defineCommand('herdKeyRateCharge', { numberOfKeys: 1, lua: CHARGE });
  }

  private call(name: string, ...args: (string | number)[]): Promise<unknown> {
    return runScript(this.redis, name, ...args);
  }

  /** Counts one request in the key's window if neither limit is reached (one round trip). */
  async take(keyId: string, limits: { rpm?: number; tpm?: number }, windowMs: number): Promise<RateVerdict> {
    const [code, msLeft] = (await this.call('herdKeyRateTake', this.keys.keyRate(keyId), windowMs, limits.rpm ?? 0, limits.tpm ?? 0)) as [number, number];
    if (code === 1) return { allowed: true };
    return { allowed: false, limit: code === 0 ? 'rpm' : 'tpm', msLeft };
  }

  async charge(keyId: string, tokens: number, windowMs: number): Promise<void> {
    await this.call('herdKeyRateCharge', this.keys.keyRate(keyId), windowMs, Math.round(tokens));
  }
}
