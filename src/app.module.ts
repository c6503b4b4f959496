import { Module, type DynamicModule } from '@nestjs/common';
import { ApiModule } from './api/api.module';
import { BatchApiModule } from './api/batch/batch-api.module';
import { SeedRoutesModule } from './api/seed/seed-routes.module';
import type { Logger } from './common/logger';
import { ConfigModule } from './config/config.module';
import type { HerdConfig } from './config/herd-config';
import { DashboardModule } from './dashboard/dashboard.module';
import { FleetModule } from './fleet/fleet.module';
import { HealthModule } from './health/health.module';
import { HerdLifecycle } from './herd-lifecycle';
import { LearningModule } from './learning/learning.module';
import { MetricsModule } from './metrics/metrics.module';
import { PlacementModule } from './placement/placement.module';
import { QueueModule } from './queue/queue.module';
import type { RedisConnections } from './redis/redis-connections';
import { RedisModule } from './redis/redis.module';
import { UpstreamModule } from './upstream/upstream.module';

/**
 * One Herd replica. The configuration, the logger and the Redis connections exist before Nest (they must be
 * proven first) and are provided as values; every other part is a provider of its folder's module.
 */
@Module({})
export class AppModule {
  static forRoot(config: HerdConfig, log: Logger, redis: RedisConnections): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config, log),
        RedisModule.forConnections(redis),
        ApiModule,
        BatchApiModule,
        SeedRoutesModule,
        HealthModule,
        MetricsModule,
        DashboardModule,
        // What HerdLifecycle starts and stops.
        FleetModule,
        LearningModule,
        PlacementModule,
        QueueModule,
        UpstreamModule,
      ],
      providers: [HerdLifecycle],
    };
  }
}
