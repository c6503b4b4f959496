import { Inject, Injectable } from '@nestjs/common';
import { REDIS_COMMAND, type RedisLike } from '../redis/redis-connections';
import { parseJsonHash } from '../redis/json-hash';
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
    return parseJsonHash<ModelStats>(await this.redis.hgetall(this.keys.modelStats));
  }

  async save(entries: [model: string, stats: ModelStats | undefined][]): Promise<void> {
    if (entries.length === 0) return;
    await this.redis.hset(this.keys.modelStats, ...entries.flatMap(([m, s]) => [m, JSON.stringify(s)]));
  }
}
