import { Global, Module, type DynamicModule } from '@nestjs/common';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { pingRedis, REDIS_COMMAND, REDIS_PRODUCER, REDIS_SUBSCRIBER, REDIS_WORKER, RedisConnections } from './redis-connections';
import { RedisKeys } from './redis-keys';
import { RedisWatchdog } from './redis-watchdog';

/** The connections opened before Nest started, the key names, and the watchdog that PINGs Redis: for every module. */
@Global()
@Module({})
export class RedisModule {
  static forConnections(redis: RedisConnections): DynamicModule {
    return {
      module: RedisModule,
      providers: [
        { provide: RedisConnections, useValue: redis },
        { provide: REDIS_COMMAND, useValue: redis.command },
        { provide: REDIS_SUBSCRIBER, useValue: redis.subscriber },
        { provide: REDIS_PRODUCER, useValue: redis.producer },
        { provide: REDIS_WORKER, useValue: redis.worker },
        { provide: RedisKeys, useFactory: (config: HerdConfig) => new RedisKeys(config.redisPrefix, redis.cluster), inject: [HERD_CONFIG] },
        {
          provide: RedisWatchdog,
          useFactory: (config: HerdConfig, log: Logger) => new RedisWatchdog(() => pingRedis(redis.command), config.redisCommandTimeoutMs, log),
          inject: [HERD_CONFIG, Logger],
        },
      ],
      exports: [RedisConnections, REDIS_COMMAND, REDIS_SUBSCRIBER, REDIS_PRODUCER, REDIS_WORKER, RedisKeys, RedisWatchdog],
    };
  }
}
