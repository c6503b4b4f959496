import { Inject, Injectable } from '@nestjs/common';
import { REDIS_COMMAND, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';

/** What Herd remembers per model across nodes: typical output length and how far chars/4 is from real tokens. */
export interface ModelStats {
  meanOutputTokens?: number;
  promptCorrection?: number;
}

/** Per-model stats in Redis (one hash, field per normalised model name), shared by every replica. */
@Injectable()
export class ModelStatsRepository {
  constructor(
    @Inject(REDIS_COMMAND) private readonly redis: RedisLike,
    private readonly keys: RedisKeys,
  ) {}

  async load(): Promise<Map<string, ModelStats>> {
    const raw = await this.redis.hgetall(this.keys.modelStats);
    const stats = new Map<string, ModelStats>();
    for (const [k, v] of Object.entries(raw)) {
      try {
        stats.set(k, JSON.parse(v) as ModelStats);
      } catch {
        // skip a corrupt entry; the next write replaces it
      }
    }
    return stats;
  }

  async save(entries: [model: string, stats: ModelStats | undefined][]): Promise<void> {
    if (entries.length === 0) return;
    await this.redis.hset(this.keys.modelStats, ...entries.flatMap(([m, s]) => [m, JSON.stringify(s)]));
  }
}
