import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import { HerdCore } from '../core/herd-core';
import { withoutAddress } from '../security/access';

/** GET /health: 200 while Redis answers and at least one node is up, 503 otherwise, with per-node detail. */
@Controller('health')
export class HealthController {
  constructor(
    @Inject(HerdCore) private readonly core: HerdCore,
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
    return this.core.draining ? check.down({ message: 'shutting down', replica: this.core.config.replicaId }) : check.up({ replica: this.core.config.replicaId });
  }

  /** Answers within the Redis command timeout: at once when Redis is known not to answer, else after one PING. */
  private async redis() {
    const check = this.indicator.check('redis');
    const result = await this.core.watchdog.check();
    return result.ok ? check.up() : check.down({ message: result.message });
  }

  private nodes() {
    const check = this.indicator.check('nodes');
    const nodes = Object.fromEntries(
      this.core.fleet.nodes().map((n) => {
        const h = this.core.fleet.health(n.name);
        // Public (load balancers probe it): names and states, never node addresses.
        return [n.name, { status: this.core.fleet.nodeState(n.name), slots: n.slots, models: h?.models.map((m) => m.name) ?? [], lastError: withoutAddress(h?.lastError, n.url) }];
      }),
    );
    const up = this.core.fleet.upCount();
    return up > 0 ? check.up({ up, total: this.core.fleet.nodes().length, nodes }) : check.down({ message: 'no node is up', up, nodes });
  }
}
