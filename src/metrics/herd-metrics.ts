import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WorkRepository } from '../batch/work.repository';
import { circuitView } from '../fleet/circuit-breaker';
import type { FleetRegistry, NodeState } from '../fleet/fleet-registry';
import type { LedgerRepository, NodeLoad } from '../fleet/ledger.repository';
import type { RequestRecord } from '../inference/request-events';
import type { FairShareRepository } from '../queue/fair-share.repository';
import type { JobQueueRepository } from '../queue/job-queue.repository';
import { OTHER_TENANT, TenantLabels } from '../usage/tenant-labels';
import { LiveState } from './live-state';

/** What the metrics read: the fleet registry, the ledger and the queue repository (MetricsModule), or a small fake in unit tests. */
export interface MetricsSource {
  config: { replicaId: string; strategy: string };
  fleet: Pick<FleetRegistry, 'nodes' | 'isUp' | 'nodeState' | 'circuit' | 'health' | 'rates' | 'modelPresence'>;
  ledger: Pick<LedgerRepository, 'loads'>;
  queue: Pick<JobQueueRepository, 'countsByPriority'>;
  /** Waiting requests per tenant, read at scrape time (absent: no herd_tenant_waiting samples). */
  tenants?: Pick<FairShareRepository, 'waitingByTenant'>;
  /** Batch lines and async jobs waiting and running, read at scrape time (absent: no herd_work_items samples). */
  work?: Pick<WorkRepository, 'counts'>;
}

export const NODE_STATES: readonly NodeState[] = ['healthy', 'degraded', 'down', 'draining'];
export const PRIORITIES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as const;

/** Model label for a model nobody has: clients can send any name, and labels must stay a bounded set. */
export const UNKNOWN_MODEL = '(unknown)';
/** Node label of a request that never reached a node (rejected, or canceled while queued). */
export const NO_NODE = '(none)';

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300];
const QUEUE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
const RATIO_BUCKETS = [0.25, 0.5, 0.67, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 2, 4];

/**
 * Herd's Prometheus metrics in a registry of their own. Request metrics are fed by `observe` (one call per
 * finished request, a handful of map look-ups); fleet and queue gauges are computed when Prometheus scrapes.
 */
export class HerdMetrics {
  readonly registry = new Registry();
  private readonly live: LiveState;
  private readonly routes = new Map<string, string>();

  private readonly requests: Counter<'route' | 'model' | 'node' | 'outcome'>;
  private readonly retries: Counter<'model'>;
  private readonly tokens: Counter<'model' | 'node'>;
  private readonly duration: Histogram<'route' | 'model'>;
  private readonly queueWait: Histogram<'model'>;
  private readonly ttft: Histogram<'route' | 'model'>;
  private readonly estimateError: Histogram;
  private readonly tenantRequests: Counter<'tenant' | 'outcome'>;
  private readonly tenantTokens: Counter<'tenant' | 'kind'>;
  private readonly tenantQueueWait: Histogram<'tenant'>;
  /** Tenant names as labels, at most MAX_TENANT_LABELS of them (then "(other)"); never an API key. */
  private readonly tenantLabels: TenantLabels;

  constructor(
    private readonly source: MetricsSource,
    options: { defaultMetrics?: boolean; maxTenants?: number } = {},
  ) {
    this.tenantLabels = new TenantLabels(options.maxTenants);
    this.live = new LiveState(source);
    const registers = [this.registry];
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'herd_' });

    this.requests = new Counter({
      name: 'herd_requests_total',
      help: 'Inference requests that ended, by route, model, the node of the final attempt and outcome (ok, error, canceled, rejected).',
      labelNames: ['route', 'model', 'node', 'outcome'],
      registers,
    });
    this.retries = new Counter({
      name: 'herd_request_retries_total',
      help: 'Attempts placed again on another node after a failure before the first byte.',
      labelNames: ['model'],
      registers,
    });
    this.tokens = new Counter({
      name: 'herd_tokens_generated_total',
      help: 'Tokens generated (eval_count of the final chunk) by successful requests.',
      labelNames: ['model', 'node'],
      registers,
    });
    this.duration = new Histogram({
      name: 'herd_request_duration_seconds',
      help: 'From arrival at Herd to the last byte, for requests that were admitted to the queue.',
      labelNames: ['route', 'model'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.queueWait = new Histogram({
      name: 'herd_queue_wait_seconds',
      help: 'From admission to the grant of a slot on a node.',
      labelNames: ['model'],
      buckets: QUEUE_BUCKETS,
      registers,
    });
    this.ttft = new Histogram({
      name: 'herd_time_to_first_token_seconds',
      help: 'Streamed requests: from arrival at Herd to the first byte sent to the client (queue wait included).',
      labelNames: ['route', 'model'],
      buckets: TTFT_BUCKETS,
      registers,
    });
    this.estimateError = new Histogram({
      name: 'herd_estimate_error_ratio',
      help: "Successful requests: actual service time (grant to last byte) divided by the scheduler's estimate. 1 is perfect, 2 took twice as long as predicted.",
      buckets: RATIO_BUCKETS,
      registers,
    });

    this.tenantRequests = new Counter({
      name: 'herd_tenant_requests_total',
      help: 'Inference requests that ended, by tenant and outcome; "(unknown)" for requests refused before their caller was known.',
      labelNames: ['tenant', 'outcome'],
      registers,
    });
    this.tenantTokens = new Counter({
      name: 'herd_tenant_tokens_total',
      help: 'Tokens served to each tenant by requests that ended well: kind="prompt" (prompt_eval_count, or the estimate when the node gives none) or kind="output" (eval_count).',
      labelNames: ['tenant', 'kind'],
      registers,
    });
    this.tenantQueueWait = new Histogram({
      name: 'herd_tenant_queue_wait_seconds',
      help: 'From admission to the grant of a slot, by tenant.',
      labelNames: ['tenant'],
      buckets: QUEUE_BUCKETS,
      registers,
    });

    new Gauge({
      name: 'herd_info',
      help: 'Constant 1, labelled with this replica and its scheduling strategy.',
      labelNames: ['replica', 'strategy'],
      registers,
    }).set({ replica: source.config.replicaId, strategy: source.config.strategy }, 1);
    this.fleetGauges(registers);
    this.redisGauges(registers);
  }

  /** One finished request. Called on the request path: keep it to counter and histogram updates. */
  observe(r: RequestRecord): void {
    const model = r.node !== undefined || this.source.fleet.modelPresence(r.model) !== 'absent' ? r.model : UNKNOWN_MODEL;
    const node = r.node ?? NO_NODE;
    const route = this.routeLabel(r.route);
    const tenant = this.tenantLabels.label(r.tenant);
    this.requests.inc({ route, model, node, outcome: r.outcome });
    this.tenantRequests.inc({ tenant, outcome: r.outcome });
    if (r.retries > 0) this.retries.inc({ model }, r.retries);
    if (r.outcome === 'rejected') return;
    this.duration.observe({ route, model }, r.durationMs / 1000);
    if (r.queueMs !== undefined) {
      this.queueWait.observe({ model }, r.queueMs / 1000);
      this.tenantQueueWait.observe({ tenant }, r.queueMs / 1000);
    }
    if (r.stream && r.ttftMs !== undefined && r.serviceMs !== undefined) {
      // ttftMs and serviceMs count from the final attempt's start; durationMs - serviceMs is everything before it.
      this.ttft.observe({ route, model }, (r.durationMs - r.serviceMs + r.ttftMs) / 1000);
    }
    if (r.outcome !== 'ok') return;
    if (r.evalCount !== undefined && r.evalCount > 0) {
      this.tokens.inc({ model, node }, r.evalCount);
      this.tenantTokens.inc({ tenant, kind: 'output' }, r.evalCount);
    }
    if (r.promptTokens !== undefined && r.promptTokens > 0) this.tenantTokens.inc({ tenant, kind: 'prompt' }, r.promptTokens);
    if (r.estimateMs !== undefined && r.estimateMs > 0 && r.serviceMs !== undefined) this.estimateError.observe(r.serviceMs / r.estimateMs);
  }

  /**
   * The route as a label: Express matches paths case-insensitively and with a trailing slash, so the raw path
   * could mint new series (`/API/Generate/`); lower case without the slash is one of the few real routes.
   */
  private routeLabel(path: string): string {
    const known = this.routes.get(path);
    if (known !== undefined) return known;
    const label = path.toLowerCase().replace(/\/+$/, '') || '/';
    if (this.routes.size < 256) this.routes.set(path, label);
    return label;
  }

  contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text; gauges read the fleet now, and Redis once per scrape. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  private fleetGauges(registers: Registry[]): void {
    const fleet = this.source.fleet;
    const live = this.live;
    new Gauge({
      name: 'herd_node_up',
      help: "1 when the node's last health poll (or dispatch) reached it.",
      labelNames: ['node'],
      registers,
      collect() {
        this.reset();
        for (const n of fleet.nodes()) this.set({ node: n.name }, fleet.isUp(n.name) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'herd_node_state',
      help: 'The node state: 1 for the current one among healthy, degraded (circuit not closed), down and draining.',
      labelNames: ['node', 'state'],
      registers,
      collect() {
        this.reset();
        for (const n of fleet.nodes()) {
          const state = fleet.nodeState(n.name);
          for (const s of NODE_STATES) this.set({ node: n.name, state: s }, s === state ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'herd_node_slots',
      help: 'Requests the node runs at once (its configured slots).',
      labelNames: ['node'],
      registers,
      collect() {
        this.reset();
        for (const n of fleet.nodes()) this.set({ node: n.name }, n.slots);
      },
    });
    new Gauge({
      name: 'herd_node_circuit_open',
      help: "1 while the node's circuit breaker is open or half-open (probing), 0 when closed.",
      labelNames: ['node'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const n of fleet.nodes()) this.set({ node: n.name }, circuitView(fleet.circuit(n.name), now) === 'closed' ? 0 : 1);
      },
    });
    new Gauge({
      name: 'herd_learned_decode_tokens_per_second',
      help: 'Decode rate of one stream alone, learned from the final chunks of answers, per node and model.',
      labelNames: ['node', 'model'],
      registers,
      collect() {
        this.reset();
        for (const n of fleet.nodes()) {
          for (const m of fleet.health(n.name)?.models ?? []) {
            const tps = fleet.rates(n.name, m.name)?.decodeTps;
            if (tps !== undefined && Number.isFinite(tps)) this.set({ node: n.name, model: m.name }, tps);
          }
        }
      },
    });
    const loadGauge = (name: string, help: string, pick: (l: NodeLoad) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['node'],
        registers,
        async collect() {
          const state = await live.get();
          this.reset();
          if (!state.loads) return;
          for (const n of fleet.nodes()) this.set({ node: n.name }, pick(state.loads.get(n.name) ?? { inFlight: 0, backlogTokens: 0 }));
        },
      });
    };
    loadGauge('herd_node_in_flight', 'Requests holding a slot on the node now, from every replica (lease ledger in Redis).', (l) => l.inFlight);
    loadGauge('herd_node_backlog_tokens', "Tokens the node's running requests still have to process (prompt and expected output, counted down over each request's estimate).", (l) => l.backlogTokens);
  }

  private redisGauges(registers: Registry[]): void {
    const live = this.live;
    new Gauge({
      name: 'herd_work_items',
      help: 'Durable work in Redis, by lane (batch: batch lines; jobs: async jobs) and state (ready: waiting to be claimed or retried; running).',
      labelNames: ['lane', 'state'],
      registers,
      async collect() {
        const state = await live.get();
        this.reset();
        if (!state.work) return;
        for (const [lane, counts] of state.work) {
          this.set({ lane, state: 'ready' }, counts.ready);
          this.set({ lane, state: 'running' }, counts.running);
        }
      },
    });
    new Gauge({
      name: 'herd_queue_depth',
      help: 'Requests waiting in the shared queue for a slot, by priority (1 is served first).',
      labelNames: ['priority'],
      registers,
      async collect() {
        const state = await live.get();
        this.reset();
        if (!state.depth) return;
        for (const p of PRIORITIES) this.set({ priority: String(p) }, state.depth[p] ?? 0);
      },
    });
    const labels = this.tenantLabels;
    new Gauge({
      name: 'herd_tenant_waiting',
      help: 'Requests waiting in the shared queue, by tenant (from Redis: the same on every replica).',
      labelNames: ['tenant'],
      registers,
      async collect() {
        const state = await live.get();
        this.reset();
        if (!state.waitingByTenant) return;
        for (const [name, count] of state.waitingByTenant) {
          const tenant = labels.label(name);
          // Folded tenants add up under one label.
          if (tenant === OTHER_TENANT) this.inc({ tenant }, count);
          else this.set({ tenant }, count);
        }
      },
    });
    new Gauge({
      name: 'herd_redis_up',
      help: 'Whether this scrape could read the queue and the lease ledger from Redis.',
      registers,
      async collect() {
        const state = await live.get();
        this.set(state.loads && state.depth ? 1 : 0);
      },
    });
  }
}
