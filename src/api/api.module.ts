import { Module } from '@nestjs/common';
import { FleetModule } from '../fleet/fleet.module';
import { InferenceModule } from '../inference/inference.module';
import { ModelsModule } from '../models/models.module';
import { TenantsModule } from '../tenants/tenants.module';
import { UsageModule } from '../usage/usage.module';
import { HerdGenerateController } from './herd/herd-generate.controller';
import { KeysController } from './herd/keys.controller';
import { NodesController } from './herd/nodes.controller';
import { UsageController } from './herd/usage.controller';
import { InferenceRoute } from './inference-route';
import { KeyTokenUsage } from './key-token-usage';
import { OllamaAdminController } from './ollama/ollama-admin.controller';
import { OllamaFleetController } from './ollama/ollama-fleet.controller';
import { OllamaInferenceController } from './ollama/ollama-inference.controller';
import { OpenAiInferenceController } from './openai/openai-inference.controller';

/** Herd's HTTP surfaces: Ollama's API, the OpenAI-style API and /herd/nodes. Controllers translate HTTP; services work. */
@Module({
  imports: [InferenceModule, ModelsModule, FleetModule, UsageModule, TenantsModule],
  controllers: [HerdGenerateController, OllamaInferenceController, OpenAiInferenceController, OllamaFleetController, OllamaAdminController, NodesController, UsageController, KeysController],
  providers: [InferenceRoute, KeyTokenUsage],
})
export class ApiModule {}
