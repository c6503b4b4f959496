import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HerdGenerateController } from './api/herd/herd-generate.controller';
import { HerdCore } from './core/herd-core';
import { HealthController } from './health/health.controller';
import { OllamaInferenceController } from './api/ollama/ollama-inference.controller';
import { NodesController } from './api/herd/nodes.controller';
import { OllamaFleetController } from './api/ollama/ollama-fleet.controller';
import { OllamaAdminController } from './api/ollama/ollama-admin.controller';
import { OpenAiInferenceController } from './api/openai/openai-inference.controller';
import { MetricsModule } from './metrics/metrics.module';
import { DashboardModule } from './dashboard/dashboard.module';

@Module({})
export class AppModule {
  /** The core is built before Nest (it needs Redis first); Nest only routes HTTP to it. */
  static forCore(core: HerdCore): DynamicModule {
    return {
      module: AppModule,
      imports: [TerminusModule.forRoot({ logger: false }), MetricsModule.forCore(core), DashboardModule.forCore(core)],
      controllers: [HerdGenerateController, OllamaInferenceController, OpenAiInferenceController, OllamaFleetController, OllamaAdminController, NodesController, HealthController],
      providers: [{ provide: HerdCore, useValue: core }],
    };
  }
}
