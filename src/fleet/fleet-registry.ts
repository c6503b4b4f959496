import { Inject, Injectable } from '@nestjs/common';
import { Listeners } from '../common/listeners';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig, type NodeConfig } from '../config/herd-config';
import { isEligible, type EligibilityView } from '../scheduler/eligibility';
import { findModel } from '../scheduler/model-name';
import type { FleetSnapshot, ModelRates } from '../scheduler/scheduler.types';
import { admits, circuitView, CLOSED, type CircuitState } from './circuit-breaker';
import { fleetSnapshot } from './fleet-snapshot';
import { rateKey, FleetRepository, type FleetState } from './fleet.repository';
import type { NodeHealth } from './fleet.types';
import type { NodeLoad } from './ledger.repository';

export type NodeState = 'healthy' | 'degraded' | 'down' | 'draining';

/**
 * This replica's view of the fleet: node list, health, breakers and learned rates, read from Redis on every
 * health tick and whenever a replica announces a change. Whatever decides (admission, placement, the queue pump,
 * the views) reads here, without a round trip. The parts that change the fleet (health polls, breakers, learning)
 * write to Redis themselves and note the change here, so this replica's next decision sees it at once.
 */
@Injectable()
export class FleetRegistry {
  private state: FleetState = { nodes: [], health: new Map(), rates: new Map(), circuits: new Map() };
  private byName = new Map<string, NodeConfig>();
  private readonly listeners: Listeners<[]>;

  constructor(
    private readonly repo: FleetRepository,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    private readonly log: Logger,
  ) {
    this.listeners = new Listeners((err) => this.log.error('fleet change listener failed', { error: (err as Error)?.stack ?? String(err) }));
  }

  /** At start: seeds an empty registry from the containers config, then reads it. */
  async load(): Promise<void> {
    const seeded = await this.repo.seed(this.config.nodes);
    if (seeded) this.log.info('fleet seeded from containers config', { nodes: seeded, file: this.config.containersConfigPath });
    await this.refresh();
  }

  /** From now on, re-reads the fleet whenever a replica announces a change. */
  async follow(): Promise<void> {
    await this.repo.listenForChanges(() => void this.refresh().catch(() => undefined));
  }

  /** Called after every refresh, and when a node is found unreachable (waiting placements look again). */
  onChange(fn: () => void): void {
    this.listeners.add(fn);
  }

  async refresh(): Promise<void> {
    this.state = await this.repo.load();
    if (this.state.nodes.length === 0 && this.config.nodes.length > 0 && (await this.repo.seed(this.config.nodes))) {
      // The registry vanished (Redis restarted without persistence): start again from the file.
      this.log.warn('fleet registry was empty in Redis; re-seeded from the containers config', { nodes: this.config.nodes.length });
      this.state = await this.repo.load();
    }
    this.byName = new Map(this.state.nodes.map((n) => [n.name, n]));
    this.changed();
  }

  /** Tells the change listeners that the fleet changed here without a refresh (a node found unreachable). */
  changed(): void {
    this.listeners.emit();
  }

  /** Notes a node's health as this replica just learned it (the caller stores it in Redis). */
  setHealth(name: string, health: NodeHealth): void {
    this.state.health.set(name, health);
  }

  /** Notes a node's breaker as this replica just changed it (the caller stores it in Redis). */
  setCircuit(name: string, circuit: CircuitState): void {
    this.state.circuits.set(name, circuit);
  }

  /** Local write-through so the next decision here uses a rate learned here a moment ago. */
  setRates(node: string, model: string, rates: ModelRates): void {
    this.state.rates.set(rateKey(node, model), rates);
  }

  nodes(): NodeConfig[] {
    return this.state.nodes;
  }

  node(name: string): NodeConfig | undefined {
    return this.byName.get(name);
  }

  health(name: string): NodeHealth | undefined {
    return this.state.health.get(name);
  }

  isUp(name: string): boolean {
    return this.state.health.get(name)?.reachable === true;
  }

  circuit(name: string): CircuitState {
    return this.state.circuits.get(name) ?? CLOSED;
  }

  nodeState(name: string): NodeState {
    const n = this.byName.get(name);
    if (n?.draining) return 'draining';
    if (!this.isUp(name)) return 'down';
    return circuitView(this.state.circuits.get(name), Date.now()) === 'closed' ? 'healthy' : 'degraded';
  }

  /** Learned rates of a model on a node, however the model is spelled. */
  rates(node: string, model: string): ModelRates | undefined {
    return this.state.rates.get(rateKey(node, model));
  }

  /** How the node spells `model` in its /api/tags (as of the last poll), or undefined when it does not list it. */
  modelNameOn(name: string, model: string): string | undefined {
    const h = this.state.health.get(name);
    return h ? findModel(h.models, model)?.name : undefined;
  }

  /** Whether the model exists in the fleet at all: 'known' (some node lists it), and 'up' (a reachable node does). */
  modelPresence(model: string): 'absent' | 'known' | 'up' {
    let presence: 'absent' | 'known' | 'up' = 'absent';
    for (const n of this.state.nodes) {
      const h = this.state.health.get(n.name);
      if (!h || !findModel(h.models, model)) continue;
      if (h.reachable) return 'up';
      presence = 'known';
    }
    return presence;
  }

  /** Nodes that take new work for the model (the scheduler's one eligibility rule; slots aside). */
  nodesWithModel(model: string): NodeConfig[] {
    const now = Date.now();
    return this.state.nodes.filter((n) => isEligible(this.eligibilityView(n, now), model));
  }

  /**
   * A node as the eligibility rule sees it: "healthy" is reachable at the last poll and admitted by its breaker
   * now (a half-open breaker admits exactly its probe).
   */
  eligibilityView(n: NodeConfig, now = Date.now()): EligibilityView {
    const h = this.state.health.get(n.name);
    return { name: n.name, healthy: h?.reachable === true && admits(this.state.circuits.get(n.name), now), draining: n.draining === true, slots: n.slots, models: h?.models ?? [], memoryGb: n.memoryGb };
  }

  /** Nodes that are up. */
  upNodes(): NodeConfig[] {
    return this.state.nodes.filter((n) => this.isUp(n.name));
  }

  upCount(): number {
    return this.state.nodes.filter((n) => this.isUp(n.name)).length;
  }

  /** The scheduler's input for the given nodes (see fleetSnapshot). */
  snapshot(nodes: NodeConfig[], loads: Map<string, NodeLoad>): FleetSnapshot {
    return fleetSnapshot(nodes, loads, this.state.health, this.state.rates);
  }
}
