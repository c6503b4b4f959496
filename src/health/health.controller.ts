import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import { HerdCore } from '../core/herd-core';

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

  private async redis() {
    const check = this.indicator.check('redis');
    return (await this.core.ping()) ? check.up() : check.down({ message: 'Redis does not answer PING' });
  }

  private nodes() {
    const check = this.indicator.check('nodes');
    const nodes = Object.fromEntries(
      this.core.fleet.nodes().map((n) => {
        const h = this.core.fleet.health(n.name);
        return [n.name, { status: this.core.fleet.nodeState(n.name), url: n.url, slots: n.slots, models: h?.models.map((m) => m.name) ?? [], lastError: h?.lastError }];
      }),
    );
    const up = this.core.fleet.upCount();
    return up > 0 ? check.up({ up, total: this.core.fleet.nodes().length, nodes }) : check.down({ message: 'no node is up', up, nodes });
  }
}
