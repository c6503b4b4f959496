import type { Redis } from 'ioredis';
import type { HerdConfig, NodeConfig } from '../config/herd-config';
import type { RedisKeys } from '../redis/redis-keys';
import type { FleetSnapshot, ModelRates, NodeSnapshot } from '../scheduler/scheduler.types';
import type { OllamaNodeClient } from '../upstream/ollama-node.client';
import { rateKey, type FleetRepository, type FleetState } from './fleet.repository';
import type { NodeHealth, OllamaPs, OllamaTags } from './fleet.types';
import type { NodeLoad } from './ledger.repository';
import type { Logger } from '../common/logger';

/**
 * This replica's view of the fleet: node list, health and learned rates read from Redis, refreshed on every
 * health tick and whenever another replica announces a change. One replica per tick polls the nodes.
 */
export class FleetService {
  private state: FleetState = { nodes: [], health: new Map(), rates: new Map() };
  private byName = new Map<string, NodeConfig>();
  private timer?: NodeJS.Timeout;
  private listeners: (() => void)[] = [];

  constructor(
    private readonly repo: FleetRepository,
    private readonly client: OllamaNodeClient,
    private readonly config: HerdConfig,
    private readonly keys: RedisKeys,
    private readonly log: Logger,
  ) {}

  async start(subscriber: Redis): Promise<void> {
    const seeded = await this.repo.seed(this.config.nodes);
    if (seeded) this.log.info('fleet seeded from containers config', { nodes: seeded, file: this.config.containersConfigPath });
    await this.refresh();
    await this.poll();
    await subscriber.subscribe(this.keys.fleetChannel);
    subscriber.on('message', (channel: string) => {
      if (channel === this.keys.fleetChannel) void this.refresh().catch(() => undefined);
    });
    this.timer = setInterval(() => void this.tick(), this.config.healthIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Called after every refresh (the dispatcher re-evaluates waiting requests). */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  private async tick(): Promise<void> {
    try {
      if (await this.repo.acquireHealthLock(this.config.replicaId, Math.max(100, this.config.healthIntervalMs - 50))) await this.poll();
      else await this.refresh();
    } catch (err) {
      this.log.warn('fleet tick failed', { error: (err as Error).message });
    }
  }

  async refresh(): Promise<void> {
    this.state = await this.repo.load();
    this.byName = new Map(this.state.nodes.map((n) => [n.name, n]));
    for (const fn of this.listeners) fn();
  }

  /** Polls /api/tags and /api/ps of every node and stores the result for all replicas. */
  async poll(): Promise<void> {
    const timeout = Math.max(500, Math.min(this.config.healthIntervalMs, this.config.connectTimeoutMs * 2));
    const results = new Map<string, NodeHealth>();
    await Promise.all(
      this.state.nodes.map(async (node) => {
        const before = this.state.health.get(node.name);
        try {
          const [tags, ps] = await Promise.all([
            this.client.getJson<OllamaTags>(node, '/api/tags', timeout),
            this.client.getJson<OllamaPs>(node, '/api/ps', timeout),
          ]);
          results.set(node.name, {
            reachable: true,
            models: (tags.models ?? []).map((m) => ({ name: m.name, sizeBytes: m.size })),
            resident: (ps.models ?? []).map((m) => m.name),
            failures: 0,
            checkedAt: Date.now(),
          });
          if (before && !before.reachable) this.log.info('node is up', { node: node.name });
        } catch (err) {
          const message = (err as Error).message;
          if (!before || before.reachable) this.log.warn('node is down', { node: node.name, error: message });
          results.set(node.name, {
            reachable: false,
            models: before?.models ?? [],
            resident: [],
            failures: (before?.failures ?? 0) + 1,
            checkedAt: Date.now(),
            lastError: message,
          });
        }
      }),
    );
    await this.repo.saveHealth(results);
    await this.refresh();
  }

  /** A dispatch to the node failed before any byte reached the client: take it out until a poll says otherwise. */
  async reportFailure(name: string, error: string): Promise<void> {
    const before = this.state.health.get(name);
    const health: NodeHealth = {
      reachable: false,
      models: before?.models ?? [],
      resident: [],
      failures: (before?.failures ?? 0) + 1,
      checkedAt: Date.now(),
      lastError: error,
    };
    this.state.health.set(name, health);
    this.log.warn('node failed a dispatch; out of rotation until its next good poll', { node: name, error });
    await this.repo.saveHealth(new Map([[name, health]]));
  }

  rates(node: string, model: string): ModelRates | undefined {
    return this.state.rates.get(rateKey(node, model));
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

  /** Nodes that are up and list the model. */
  nodesWithModel(model: string): NodeConfig[] {
    return this.state.nodes.filter((n) => {
      const h = this.state.health.get(n.name);
      return h?.reachable === true && h.models.some((m) => m.name === model);
    });
  }

  /** Sum of slots over nodes that can take work: the queue's global concurrency. */
  totalSlots(): number {
    return this.state.nodes.filter((n) => this.isUp(n.name)).reduce((sum, n) => sum + n.slots, 0);
  }

  upCount(): number {
    return this.state.nodes.filter((n) => this.isUp(n.name)).length;
  }

  /** The scheduler's input for the given nodes, with live in-flight and backlog from the ledger. */
  snapshot(nodes: NodeConfig[], loads: Map<string, NodeLoad>): FleetSnapshot {
    return {
      nodes: nodes.map((n): NodeSnapshot => {
        const h = this.state.health.get(n.name);
        const load = loads.get(n.name) ?? { inFlight: 0, backlogTokens: 0 };
        const rates: NodeSnapshot['rates'] = {};
        for (const m of h?.models ?? []) {
          const r = this.state.rates.get(rateKey(n.name, m.name));
          if (r) rates[m.name] = r;
        }
        return {
          name: n.name,
          slots: n.slots,
          inFlight: load.inFlight,
          weight: n.weight,
          healthy: h?.reachable === true,
          draining: false,
          memoryGb: n.memoryGb,
          tokensPerSecondHint: n.tokensPerSecond,
          models: h?.models ?? [],
          resident: h?.resident ?? [],
          backlogTokens: load.backlogTokens,
          rates,
        };
      }),
    };
  }
}
