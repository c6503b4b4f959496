import { Module } from '@nestjs/common';
import { UpstreamModule } from '../upstream/upstream.module';
import { BreakerService } from './breaker.service';
import { FleetAdminService } from './fleet-admin.service';
import { FleetRegistry } from './fleet-registry';
import { FleetRepository } from './fleet.repository';
import { HeartbeatExpiry } from './heartbeat-expiry';
import { LedgerRepository } from './ledger.repository';
import { NodeHealthService } from './node-health.service';
import { SlotEventsRepository } from './slot-events.repository';

/** The nodes: registry, health, breakers, runtime changes, and the slot ledger every replica shares. */
@Module({
  imports: [UpstreamModule],
  providers: [FleetRepository, LedgerRepository, SlotEventsRepository, FleetRegistry, HeartbeatExpiry, NodeHealthService, BreakerService, FleetAdminService],
  exports: [FleetRepository, LedgerRepository, SlotEventsRepository, FleetRegistry, NodeHealthService, BreakerService, FleetAdminService],
})
export class FleetModule {}
