import { Module } from '@nestjs/common';
import { FleetModule } from '../../fleet/fleet.module';
import { InferenceModule } from '../../inference/inference.module';
import { ModelsModule } from '../../models/models.module';
import { InferenceRoute } from '../inference-route';
import { ClusterLlmController } from './cluster-llm.controller';
import { ConnectorController } from './connector.controller';
import { CoordinatorController } from './coordinator.controller';
import { SeedFleetService } from './seed-fleet.service';

/**
 * The routes of the balancers Herd replaces (Cluster LLM, Ollama Connector, Ollama Coordinator), as thin adapters
 * over Herd's own services; where one clashes with a route Herd serves, Herd's stays (docs/coming-from.md).
 * Ollama Gateway's topology page is the dashboard's (/topology).
 */
@Module({
  imports: [InferenceModule, ModelsModule, FleetModule],
  controllers: [ClusterLlmController, ConnectorController, CoordinatorController],
  providers: [InferenceRoute, SeedFleetService],
})
export class SeedRoutesModule {}
