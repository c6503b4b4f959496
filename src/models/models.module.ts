import { Module } from '@nestjs/common';
import { FleetModule } from '../fleet/fleet.module';
import { UpstreamModule } from '../upstream/upstream.module';
import { ModelAdminService } from './model-admin.service';
import { ModelInfoService } from './model-info.service';

/** Ollama's model routes over the whole fleet: what it has (tags, ps, show) and changing it (pull, create, ...). */
@Module({
  imports: [FleetModule, UpstreamModule],
  providers: [ModelInfoService, ModelAdminService],
  exports: [ModelInfoService, ModelAdminService],
})
export class ModelsModule {}
