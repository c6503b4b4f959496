import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { AdmissionModule } from '../admission/admission.module';
import { FleetModule } from '../fleet/fleet.module';
import { HealthController } from './health.controller';

/** GET /health: readiness, Redis and the nodes. */
@Module({
  imports: [TerminusModule.forRoot({ logger: false }), AdmissionModule, FleetModule],
  controllers: [HealthController],
})
export class HealthModule {}
