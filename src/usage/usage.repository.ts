import { Inject, Injectable } from '@nestjs/common';
import { REDIS_COMMAND, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';
import { DAY_MS } from './usage-days';
import { usageField } from './usage-rows';
import { MINUTE_MS, USAGE_FIELDS, type UsageBatch } from './usage-tally';

/** Minute hashes outlive the dashboard's window by a little, then expire. */
const MINUTE_KEEP_MS = 15 * MINUTE_MS;

/**
 * Usage in Redis, shared by every replica: one hash per UTC day (`tenant|field` -> count) kept `retentionDays`
 * after its day ends, and one hash per minute for the dashboard, kept 15 minutes. All keys share the queue's
 * hash tag, so on a Redis Cluster one batch is one transaction in one slot.
 */
@Injectable()
export class UsageRepository {
  constructor(
    @Inject(REDIS_COMMAND) private readonly redis: RedisLike,
    private readonly keys: RedisKeys,
  ) {}

  /** Adds a batch in one MULTI/EXEC: all of it or nothing. */
  async add(batch: UsageBatch, retentionDays: number): Promise<void> {
    const tx = this.redis.multi();
    for (const [day, tenants] of batch.days) {
      const key = this.keys.usageDay(day);
      for (const [tenant, counts] of tenants) {
        for (const f of USAGE_FIELDS) if (counts[f] !== 0) tx.hincrby(key, usageField(tenant, f), counts[f]);
      }
      tx.pexpireat(key, Date.parse(`${day}T00:00:00Z`) + (retentionDays + 1) * DAY_MS);
    }
    for (const [minute, tenants] of batch.minutes) {
      const key = this.keys.usageMinute(minute);
      for (const [tenant, c] of tenants) {
        tx.hincrby(key, usageField(tenant, 'requests'), c.requests);
        if (c.promptTokens) tx.hincrby(key, usageField(tenant, 'promptTokens'), c.promptTokens);
        if (c.outputTokens) tx.hincrby(key, usageField(tenant, 'outputTokens'), c.outputTokens);
        if (c.weight !== undefined) tx.hset(key, usageField(tenant, 'weight'), String(c.weight));
      }
      tx.pexpireat(key, (minute + 1) * MINUTE_MS + MINUTE_KEEP_MS);
    }
    const results = await tx.exec();
    for (const [err] of results ?? []) if (err) throw err;
  }

  /** The hashes of the given days, in one round trip (days with nothing recorded are empty). */
  async days(days: readonly string[]): Promise<Record<string, string>[]> {
    return this.hashes(days.map((d) => this.keys.usageDay(d)));
  }

  /** The hashes of the given epoch minutes, in one round trip. */
  async minutes(minutes: readonly number[]): Promise<Record<string, string>[]> {
    return this.hashes(minutes.map((m) => this.keys.usageMinute(m)));
  }

  private async hashes(keys: string[]): Promise<Record<string, string>[]> {
    if (keys.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const k of keys) pipe.hgetall(k);
    const results = (await pipe.exec()) ?? [];
    return results.map(([err, value]) => {
      if (err) throw err;
      return value as Record<string, string>;
    });
  }
}
