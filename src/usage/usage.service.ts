import { Inject, Injectable } from '@nestjs/common';
import { HerdError } from '../common/herd-error';
import { Logger } from '../common/logger';
import type { RequestRecord } from '../inference/request-events';
import { recentService, type TenantService } from './recent-service';
import type { DayRange } from './usage-days';
import { rowsOfDay, type UsageRow } from './usage-rows';
import { MINUTE_MS, UsageTally } from './usage-tally';
import { UsageRepository } from './usage.repository';

/** Days a day's usage stays in Redis after it ends (the provider of USAGE_RETENTION_DAYS; 400 by default). */
export const USAGE_RETENTION_DAYS = Symbol('USAGE_RETENTION_DAYS');
export const DEFAULT_USAGE_RETENTION_DAYS = 400;
/** At most one write to Redis per replica per second, whatever the traffic. */
export const USAGE_FLUSH_MS = 1000;
/** The dashboard's share of service covers the current minute and the four before it. */
export const RECENT_MINUTES = 5;

/**
 * Per-tenant usage, shared by the replicas: each finished request is counted in memory here (no Redis round
 * trip on the request path) and the counts go to Redis in one transaction at most every second, and once more
 * when the replica stops. What a replica counted in its last second reaches the usage query after that write.
 */
@Injectable()
export class UsageService {
  private readonly tally = new UsageTally();
  private timer?: NodeJS.Timeout;
  /** The write under way (writes never overlap, so a failed batch goes back before the next is taken). */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly repo: UsageRepository,
    @Inject(USAGE_RETENTION_DAYS) private readonly retentionDays: number,
    private readonly log: Logger,
  ) {}

  /** One finished request (a RequestEvents listener): counted now, written with the next batch. */
  record(r: RequestRecord): void {
    this.tally.add(r);
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), USAGE_FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Writes what was counted since the last write. When Redis does not take it, it stays for the next one. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing.then(async () => {
      if (this.tally.empty) return;
      const batch = this.tally.take();
      try {
        await this.repo.add(batch, this.retentionDays);
      } catch (err) {
        // A write whose answer never came may have been applied: then its counts are written twice. Redis
        // being away is the common case, and losing a tenant's usage is the worse mistake.
        this.tally.restore(batch);
        this.log.debug('usage not written, kept for the next write', { error: (err as Error).message });
        if (!this.timer) {
          this.timer = setTimeout(() => void this.flush(), USAGE_FLUSH_MS);
          this.timer.unref();
        }
      }
    });
    return this.writing;
  }

  /** Stops the timer and writes what is left (on shutdown, after the HTTP server closed). */
  async stop(): Promise<void> {
    await this.flush();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Every tenant's usage on every day of the range, by day then tenant. */
  async rows(range: DayRange): Promise<UsageRow[]> {
    const hashes = await this.repo.days(range.days).catch(() => {
      throw HerdError.redisDown();
    });
    return range.days.flatMap((day, i) => rowsOfDay(day, hashes[i] ?? {}));
  }

  /** Each tenant's service over the last RECENT_MINUTES minutes, from every replica; undefined when Redis did not answer. */
  async recent(now = Date.now()): Promise<TenantService[] | undefined> {
    const current = Math.floor(now / MINUTE_MS);
    const minutes = Array.from({ length: RECENT_MINUTES }, (_, i) => current - RECENT_MINUTES + 1 + i);
    try {
      return recentService(await this.repo.minutes(minutes));
    } catch {
      return undefined;
    }
  }
}
