import { Inject, Injectable } from '@nestjs/common';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { FleetRegistry } from './fleet-registry';
import { FleetRepository } from './fleet.repository';
import type { NodeHealth } from './fleet.types';

/**
 * Self-registered nodes live on their heartbeats: down after three missed health intervals, removed from the
 * fleet after HERD_HEARTBEAT_GRACE_MS. Applied to each poll's results before they are stored.
 */
@Injectable()
export class HeartbeatExpiry {
  constructor(
    private readonly registry: FleetRegistry,
    private readonly repo: FleetRepository,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    private readonly log: Logger,
  ) {}

  async apply(results: Map<string, NodeHealth>): Promise<void> {
    const selfRegistered = this.registry.nodes().filter((n) => n.selfRegistered);
    if (selfRegistered.length === 0) return;
    const beats = await this.repo.heartbeats();
    const now = Date.now();
    for (const node of selfRegistered) {
      const age = now - (beats.get(node.name) ?? 0);
      if (age > this.config.heartbeatGraceMs) {
        this.log.warn('self-registered node removed: no heartbeat within the grace period', { node: node.name, silentMs: age });
        results.delete(node.name);
        await this.repo.removeNode(node.name);
      } else if (age > 3 * this.config.healthIntervalMs) {
        const h = results.get(node.name);
        if (h) results.set(node.name, { ...h, reachable: false, lastError: `no heartbeat for ${Math.round(age / 1000)} s` });
      }
    }
  }
}
