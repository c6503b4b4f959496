import { Module } from '@nestjs/common';
import { FleetModule } from '../fleet/fleet.module';
import { InferenceModule } from '../inference/inference.module';
import { ModelsModule } from '../models/models.module';
import { HerdGenerateController } from './herd/herd-generate.controller';
import { NodesController } from './herd/nodes.controller';
import { InferenceRoute } from './inference-route';
import { OllamaAdminController } from './ollama/ollama-admin.controller';
import { OllamaFleetController } from './ollama/ollama-fleet.controller';
import { OllamaInferenceController } from './ollama/ollama-inference.controller';
import { OpenAiInferenceController } from './openai/openai-inference.controller';

/** Herd's HTTP surfaces: Ollama's API, the OpenAI-style API and /herd/nodes. Controllers translate HTTP; services work. */
@Module({
  imports: [InferenceModule, ModelsModule, FleetModule],
  controllers: [HerdGenerateController, OllamaInferenceController, OpenAiInferenceController, OllamaFleetController, OllamaAdminController, NodesController],
  providers: [InferenceRoute],
})
export class ApiModule {}
