import { Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InferenceModule } from '../inference/inference.module';
import { RequestEvents } from '../inference/request-events';
import { UsageRepository } from './usage.repository';
import { DEFAULT_USAGE_RETENTION_DAYS, USAGE_RETENTION_DAYS, UsageService } from './usage.service';

/**
 * Per-tenant usage by UTC day, kept in Redis and shared by the replicas, fed by the request events. Written
 * once more when the replica stops: Nest calls that after the HTTP server closed and before bootstrap closes
 * the Redis connections.
 */
@Module({
  imports: [InferenceModule],
  providers: [UsageRepository, UsageService, { provide: USAGE_RETENTION_DAYS, useValue: DEFAULT_USAGE_RETENTION_DAYS }],
  exports: [UsageService],
})
export class UsageModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly events: RequestEvents,
    private readonly usage: UsageService,
  ) {}

  onModuleInit(): void {
    const usage = this.usage;
    this.events.on((record) => usage.record(record));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.usage.stop();
  }
}
