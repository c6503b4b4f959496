import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import { AdmissionService } from '../admission/admission.service';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { FleetRegistry } from '../fleet/fleet-registry';
import { RedisWatchdog } from '../redis/redis-watchdog';
import { withoutAddress } from '../security/access';

/** GET /health: 200 while Redis answers and at least one node is up, 503 otherwise, with per-node detail. */
@Controller('health')
export class HealthController {
  constructor(
    private readonly admission: AdmissionService,
    private readonly watchdog: RedisWatchdog,
    private readonly fleet: FleetRegistry,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<HealthCheckResult> {
    return this.health.check([() => this.readiness(), () => this.redis(), () => this.nodes()]);
  }

  private readiness() {
    const check = this.indicator.check('replica');
    return this.admission.draining ? check.down({ message: 'shutting down', replica: this.config.replicaId }) : check.up({ replica: this.config.replicaId });
  }

  /** Answers within the Redis command timeout: at once when Redis is known not to answer, else after one PING. */
  private async redis() {
    const check = this.indicator.check('redis');
    const result = await this.watchdog.check();
    return result.ok ? check.up() : check.down({ message: result.message });
  }

  private nodes() {
    const check = this.indicator.check('nodes');
    const nodes = Object.fromEntries(
      this.fleet.nodes().map((n) => {
        const h = this.fleet.health(n.name);
        // Public (load balancers probe it): names and states, never node addresses.
        return [n.name, { status: this.fleet.nodeState(n.name), slots: n.slots, models: h?.models.map((m) => m.name) ?? [], lastError: withoutAddress(h?.lastError, n.url) }];
      }),
    );
    const up = this.fleet.upCount();
    return up > 0 ? check.up({ up, total: this.fleet.nodes().length, nodes }) : check.down({ message: 'no node is up', up, nodes });
  }
}
