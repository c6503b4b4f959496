import { Injectable } from '@nestjs/common';
import { Logger } from '../common/logger';
import { circuitView, recordFailure, recordSuccess, startProbe } from './circuit-breaker';
import { FleetRegistry } from './fleet-registry';
import { FleetRepository } from './fleet.repository';
import { NodeHealthService } from './node-health.service';

/** How a dispatch failed: a node that cannot be reached is out until a poll sees it again; errors count toward its breaker. */
export type FailureKind = 'unreachable' | 'error';

/**
 * Each node's circuit breaker, fed by dispatches: the policy is pure (circuit-breaker.ts); this keeps the state
 * in Redis, shared by every replica (kept apart from health, so a poll never overwrites a breaker).
 */
@Injectable()
export class BreakerService {
  constructor(
    private readonly registry: FleetRegistry,
    private readonly repo: FleetRepository,
    private readonly health: NodeHealthService,
    private readonly log: Logger,
  ) {}

  /** A dispatch failed. Its breaker counts it; an unreachable node also leaves rotation until a poll sees it. */
  async reportFailure(name: string, error: string, kind: FailureKind): Promise<void> {
    const before = this.registry.circuit(name);
    const circuit = recordFailure(before, Date.now());
    this.registry.setCircuit(name, circuit);
    if (circuitView(circuit, Date.now()) !== 'closed' && circuitView(before, Date.now()) === 'closed') {
      this.log.warn('circuit opened', { node: name, failures: circuit.failures, cooldownMs: circuit.openUntil - Date.now(), error });
    }
    const saved = this.repo.saveCircuit(name, circuit);
    await (kind === 'unreachable' ? Promise.all([saved, this.health.markUnreachable(name, error)]) : saved);
  }

  /** A dispatch got its answer: a breaker that counted failures (or was probing) closes. */
  async reportSuccess(name: string): Promise<void> {
    const c = this.registry.circuit(name);
    if (c.failures === 0 && !c.probing && c.openUntil === 0) return;
    this.registry.setCircuit(name, recordSuccess());
    if (c.openUntil > 0) this.log.info('circuit closed', { node: name });
    await this.repo.saveCircuit(name, recordSuccess());
  }

  /** A request was placed on the node: when its breaker is half-open this request is the probe. */
  async noteDispatch(name: string): Promise<void> {
    const c = this.registry.circuit(name);
    if (circuitView(c, Date.now()) !== 'half-open') return;
    const probing = startProbe(c);
    this.registry.setCircuit(name, probing);
    await this.repo.saveCircuit(name, probing);
  }
}
