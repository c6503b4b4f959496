import { Inject, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { HerdCore } from '../core/herd-core';
import { HerdMetrics } from './herd-metrics';
import { MetricsController } from './metrics.controller';
import { logRequest } from './request-log';

/** `GET /metrics` and the per-request log line, both fed by the core's request events. */
@Module({})
export class MetricsModule implements OnModuleInit {
  constructor(
    @Inject(HerdCore) private readonly core: HerdCore,
    @Inject(HerdMetrics) private readonly metrics: HerdMetrics,
  ) {}

  static forCore(core: HerdCore): DynamicModule {
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [
        { provide: HerdCore, useValue: core },
        { provide: HerdMetrics, useFactory: () => new HerdMetrics(core) },
      ],
      exports: [HerdMetrics],
    };
  }

  onModuleInit(): void {
    const { metrics, core } = this;
    core.events.on((record) => {
      metrics.observe(record);
      logRequest(core.log, record);
    });
  }
}
