import type { HerdConfig, NodeConfig } from '../config/herd-config';
import type { FleetSnapshot, ModelRates, NodeSnapshot } from '../scheduler/scheduler.types';
import { findModel, normalizeModelName, sameModel } from '../scheduler/model-name';
import type { OllamaNodeClient } from '../upstream/ollama-node.client';
import { rateKey, type FleetRepository, type FleetState } from './fleet.repository';
import type { NodeHealth, OllamaPs, OllamaTagEntry, OllamaTags } from './fleet.types';
import type { NodeLoad } from './ledger.repository';
import { Listeners } from '../common/listeners';
import type { Logger } from '../common/logger';
import { admits, circuitView, recordFailure, recordSuccess, startProbe, CLOSED, type CircuitState } from './circuit-breaker';

export type NodeState = 'healthy' | 'degraded' | 'down' | 'draining';

/** How a dispatch failed: a node that cannot be reached is out until a poll sees it again; errors count toward its breaker. */
export type FailureKind = 'unreachable' | 'error';

/**
 * This replica's view of the fleet: node list, health and learned rates read from Redis, refreshed on every
 * health tick and whenever another replica announces a change. One replica per tick polls the nodes.
 */
export class FleetService {
  private state: FleetState = { nodes: [], health: new Map(), rates: new Map(), circuits: new Map() };
  private byName = new Map<string, NodeConfig>();
  private timer?: NodeJS.Timeout;
  /** /api/tags re-reads in progress, by node (see recheckModel). */
  private readonly tagChecks = new Map<string, Promise<boolean | undefined>>();
  private readonly listeners: Listeners<[]>;

  constructor(
    private readonly repo: FleetRepository,
    private readonly client: OllamaNodeClient,
    private readonly config: HerdConfig,
    private readonly log: Logger,
  ) {
    this.listeners = new Listeners((err) => this.log.error('fleet change listener failed', { error: (err as Error)?.stack ?? String(err) }));
  }

  async start(): Promise<void> {
    const seeded = await this.repo.seed(this.config.nodes);
    if (seeded) this.log.info('fleet seeded from containers config', { nodes: seeded, file: this.config.containersConfigPath });
    await this.refresh();
    await this.poll();
    await this.repo.listenForChanges(() => void this.refresh().catch(() => undefined));
    this.timer = setInterval(() => void this.tick(), this.config.healthIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Called after every refresh (the dispatcher re-evaluates waiting requests). */
  onChange(fn: () => void): void {
    this.listeners.add(fn);
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
    if (this.state.nodes.length === 0 && this.config.nodes.length > 0 && (await this.repo.seed(this.config.nodes))) {
      // The registry vanished (Redis restarted without persistence): start again from the file.
      this.log.warn('fleet registry was empty in Redis; re-seeded from the containers config', { nodes: this.config.nodes.length });
      this.state = await this.repo.load();
    }
    this.byName = new Map(this.state.nodes.map((n) => [n.name, n]));
    this.notify();
  }

  private notify(): void {
    this.listeners.emit();
  }

  /**
   * A node just answered for a model, so the model is loaded there now. Recorded at once (and for the other
   * replicas) instead of paying the model's load time in estimates until the next /api/ps poll.
   */
  async markResident(name: string, model: string): Promise<void> {
    const h = this.state.health.get(name);
    if (!h || h.resident.some((r) => sameModel(r, model))) return;
    // Under the node's own spelling, as its /api/ps would list it.
    const next: NodeHealth = { ...h, resident: [...h.resident, this.modelNameOn(name, model) ?? model] };
    this.state.health.set(name, next);
    await this.repo.saveHealth(new Map([[name, next]]));
  }

  /** How the node spells `model` in its /api/tags (as of the last poll), or undefined when it does not list it. */
  modelNameOn(name: string, model: string): string | undefined {
    const h = this.state.health.get(name);
    return h ? findModel(h.models, model)?.name : undefined;
  }

  /**
   * A node answered that it lacks `model`. One request's word does not take a model away from the fleet (a
   * name the node spells differently, a model being re-pulled): the node's /api/tags is read again now and
   * becomes its model list, so the model is gone only when the node no longer lists it. Resolves to whether
   * the node still lists the model (undefined when the node could not be asked; nothing changes then).
   * Concurrent checks of one node share one /api/tags call.
   */
  async recheckModel(name: string, model: string): Promise<boolean | undefined> {
    let check = this.tagChecks.get(name);
    if (!check) {
      check = this.refreshTags(name).finally(() => this.tagChecks.delete(name));
      this.tagChecks.set(name, check);
    }
    const listed = await check;
    return listed === undefined ? undefined : this.modelNameOn(name, model) !== undefined;
  }

  /** Reads one node's /api/tags into its health entry (here and in Redis); false when the node left the fleet. */
  private async refreshTags(name: string): Promise<boolean | undefined> {
    const node = this.byName.get(name);
    if (!node) return false;
    let tags: OllamaTags;
    try {
      tags = await this.client.getJson<OllamaTags>(node, '/api/tags', Math.max(500, this.config.connectTimeoutMs * 2));
    } catch (err) {
      this.log.warn('could not re-read a node’s models; keeping what the last poll saw', { node: name, error: (err as Error).message });
      return undefined;
    }
    const h = this.state.health.get(name);
    if (!h) return false;
    const entries = tags.models ?? [];
    const models = entries.map((m) => ({ name: m.name, sizeBytes: m.size }));
    const gone = h.models.filter((m) => !findModel(models, m.name)).map((m) => m.name);
    if (gone.length > 0) this.log.warn('node no longer lists models; removed from its list', { node: name, models: gone });
    const next: NodeHealth = { ...h, models, tags: entries, resident: h.resident.filter((r) => findModel(models, r)) };
    this.state.health.set(name, next);
    await this.repo.saveHealth(new Map([[name, next]]));
    return true;
  }

  /** Polls /api/tags and /api/ps of every node and stores the result for all replicas. */
  async poll(): Promise<void> {
    const timeout = Math.max(500, Math.min(this.config.healthIntervalMs, this.config.connectTimeoutMs * 2));
    const results = new Map<string, NodeHealth>();
    await Promise.all(
      this.state.nodes.map(async (node) => {
        const before = this.state.health.get(node.name);
        try {
          // A node is up when it lists its models. /api/ps and /api/version only refine that: a node whose /api/ps
          // fails (or answers nonsense) keeps serving with the residency last seen.
          const [tags, ps, version] = await Promise.all([
            this.client.getJson<OllamaTags>(node, '/api/tags', timeout),
            this.client.getJson<OllamaPs>(node, '/api/ps', timeout).catch(() => undefined),
            this.client.getJson<{ version?: string }>(node, '/api/version', timeout).catch(() => ({ version: undefined })),
          ]);
          const listed = namedEntries<OllamaTagEntry>(tags?.models);
          const loaded = ps ? namedEntries(ps.models).map((m) => m.name) : undefined;
          results.set(node.name, {
            reachable: true,
            models: listed.map((m) => ({ name: m.name, sizeBytes: typeof m.size === 'number' && Number.isFinite(m.size) ? m.size : undefined })),
            resident: loaded ?? before?.resident ?? [],
            failures: 0,
            checkedAt: Date.now(),
            version: typeof version?.version === 'string' ? version.version : undefined,
            tags: listed,
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
    await this.expireSilentNodes(results);
    await this.repo.saveHealth(results);
    await this.refresh();
  }

  /** Self-registered nodes: down after three missed intervals of heartbeats, removed after the grace period. */
  private async expireSilentNodes(results: Map<string, NodeHealth>): Promise<void> {
    const selfRegistered = this.state.nodes.filter((n) => n.selfRegistered);
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

  /** A dispatch failed. Its breaker counts it; an unreachable node also leaves rotation until a poll sees it. */
  async reportFailure(name: string, error: string, kind: FailureKind): Promise<void> {
    const before = this.state.circuits.get(name);
    const circuit = recordFailure(before, Date.now());
    this.state.circuits.set(name, circuit);
    if (circuitView(circuit, Date.now()) !== 'closed' && circuitView(before, Date.now()) === 'closed') {
      this.log.warn('circuit opened', { node: name, failures: circuit.failures, cooldownMs: circuit.openUntil - Date.now(), error });
    }
    const writes: Promise<unknown>[] = [this.repo.saveCircuit(name, circuit)];
    if (kind === 'unreachable') {
      const h = this.state.health.get(name);
      const health: NodeHealth = { ...(h ?? { models: [], resident: [], failures: 0, checkedAt: 0 }), reachable: false, failures: (h?.failures ?? 0) + 1, checkedAt: Date.now(), lastError: error };
      this.state.health.set(name, health);
      this.log.warn('node unreachable; out of rotation until a poll reaches it', { node: name, error });
      writes.push(this.repo.saveHealth(new Map([[name, health]])));
      this.notify();
    }
    await Promise.all(writes);
  }

  /** A dispatch got its answer: a breaker that counted failures (or was probing) closes. */
  async reportSuccess(name: string): Promise<void> {
    const c = this.state.circuits.get(name);
    if (!c || (c.failures === 0 && !c.probing && c.openUntil === 0)) return;
    this.state.circuits.set(name, recordSuccess());
    if (c.openUntil > 0) this.log.info('circuit closed', { node: name });
    await this.repo.saveCircuit(name, recordSuccess());
  }

  /** A request was placed on the node: when its breaker is half-open this request is the probe. */
  async noteDispatch(name: string): Promise<void> {
    const c = this.state.circuits.get(name);
    if (circuitView(c, Date.now()) !== 'half-open' || !c) return;
    const probing = startProbe(c);
    this.state.circuits.set(name, probing);
    await this.repo.saveCircuit(name, probing);
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

  /** Nodes that take new work (up, breaker admits, not draining) and list the model. */
  nodesWithModel(model: string): NodeConfig[] {
    const now = Date.now();
    return this.state.nodes.filter((n) => {
      if (n.draining || !admits(this.state.circuits.get(n.name), now)) return false;
      const h = this.state.health.get(n.name);
      return h?.reachable === true && findModel(h.models, model) !== undefined;
    });
  }

  /** Nodes that are up. */
  upNodes(): NodeConfig[] {
    return this.state.nodes.filter((n) => this.isUp(n.name));
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
        // Keyed by the normalised name, as the scheduler looks rates up (ratesFor).
        const rates: NodeSnapshot['rates'] = {};
        for (const m of h?.models ?? []) {
          const key = normalizeModelName(m.name);
          const r = this.state.rates.get(rateKey(n.name, key));
          if (r) rates[key] = r;
        }
        return {
          name: n.name,
          slots: n.slots,
          inFlight: load.inFlight,
          weight: n.weight,
          healthy: h?.reachable === true,
          draining: n.draining === true,
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

/** Entries of a node's model list that have a string name; a node that lies about the shape loses only those. */
function namedEntries<T extends { name: string } = { name: string }>(list: unknown): T[] {
  return Array.isArray(list) ? (list.filter((m) => typeof m === 'object' && m !== null && typeof (m as { name?: unknown }).name === 'string') as T[]) : [];
}
