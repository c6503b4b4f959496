import { Inject, Injectable } from '@nestjs/common';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { findModel, sameModel } from '../scheduler/model-name';
import { OllamaNodeClient } from '../upstream/ollama-node.client';
import { FleetRegistry } from './fleet-registry';
import { FleetRepository } from './fleet.repository';
import type { NodeHealth, OllamaPs, OllamaTagEntry, OllamaTags } from './fleet.types';
import { HeartbeatExpiry } from './heartbeat-expiry';

/**
 * What each node can do now, stored in Redis for every replica: one replica per health interval polls every
 * node (/api/tags, /api/ps, /api/version); the others re-read the registry. Answers to requests add what a poll
 * would only see later (a model now loaded, a model gone, a node unreachable).
 */
@Injectable()
export class NodeHealthService {
  private timer?: NodeJS.Timeout;
  /** /api/tags re-reads in progress, by node (see recheckModel). */
  private readonly tagChecks = new Map<string, Promise<boolean | undefined>>();

  constructor(
    private readonly registry: FleetRegistry,
    private readonly repo: FleetRepository,
    private readonly client: OllamaNodeClient,
    private readonly heartbeats: HeartbeatExpiry,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    private readonly log: Logger,
  ) {}

  /** Polls every health interval (when this replica holds the health lock; else re-reads the registry). */
  start(): void {
    this.timer = setInterval(() => void this.tick(), this.config.healthIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    try {
      if (await this.repo.acquireHealthLock(this.config.replicaId, Math.max(100, this.config.healthIntervalMs - 50))) await this.poll();
      else await this.registry.refresh();
    } catch (err) {
      this.log.warn('fleet tick failed', { error: (err as Error).message });
    }
  }

  /** Polls /api/tags and /api/ps of every node and stores the result for all replicas. */
  async poll(): Promise<void> {
    const timeout = Math.max(500, Math.min(this.config.healthIntervalMs, this.config.connectTimeoutMs * 2));
    const results = new Map<string, NodeHealth>();
    await Promise.all(
      this.registry.nodes().map(async (node) => {
        const before = this.registry.health(node.name);
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
    await this.heartbeats.apply(results);
    await this.repo.saveHealth(results);
    await this.registry.refresh();
  }

  /**
   * A node just answered for a model, so the model is loaded there now. Recorded at once (and for the other
   * replicas) instead of paying the model's load time in estimates until the next /api/ps poll.
   */
  async markResident(name: string, model: string): Promise<void> {
    const h = this.registry.health(name);
    if (!h || h.resident.some((r) => sameModel(r, model))) return;
    // Under the node's own spelling, as its /api/ps would list it.
    const next: NodeHealth = { ...h, resident: [...h.resident, this.registry.modelNameOn(name, model) ?? model] };
    this.registry.setHealth(name, next);
    await this.repo.saveHealth(new Map([[name, next]]));
  }

  /**
   * A dispatch could not reach the node: it leaves rotation here at once (waiting placements look again) and for
   * the other replicas, until a poll reaches it.
   */
  markUnreachable(name: string, error: string): Promise<void> {
    const h = this.registry.health(name);
    const health: NodeHealth = { ...(h ?? { models: [], resident: [], failures: 0, checkedAt: 0 }), reachable: false, failures: (h?.failures ?? 0) + 1, checkedAt: Date.now(), lastError: error };
    this.registry.setHealth(name, health);
    this.log.warn('node unreachable; out of rotation until a poll reaches it', { node: name, error });
    const saved = this.repo.saveHealth(new Map([[name, health]]));
    this.registry.changed();
    return saved;
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
    return listed === undefined ? undefined : this.registry.modelNameOn(name, model) !== undefined;
  }

  /** Reads one node's /api/tags into its health entry (here and in Redis); false when the node left the fleet. */
  private async refreshTags(name: string): Promise<boolean | undefined> {
    const node = this.registry.node(name);
    if (!node) return false;
    let tags: OllamaTags;
    try {
      tags = await this.client.getJson<OllamaTags>(node, '/api/tags', Math.max(500, this.config.connectTimeoutMs * 2));
    } catch (err) {
      this.log.warn('could not re-read a node’s models; keeping what the last poll saw', { node: name, error: (err as Error).message });
      return undefined;
    }
    const h = this.registry.health(name);
    if (!h) return false;
    const entries = tags.models ?? [];
    const models = entries.map((m) => ({ name: m.name, sizeBytes: m.size }));
    const gone = h.models.filter((m) => !findModel(models, m.name)).map((m) => m.name);
    if (gone.length > 0) this.log.warn('node no longer lists models; removed from its list', { node: name, models: gone });
    const next: NodeHealth = { ...h, models, tags: entries, resident: h.resident.filter((r) => findModel(models, r)) };
    this.registry.setHealth(name, next);
    await this.repo.saveHealth(new Map([[name, next]]));
    return true;
  }
}

/** Entries of a node's model list that have a string name; a node that lies about the shape loses only those. */
function namedEntries<T extends { name: string } = { name: string }>(list: unknown): T[] {
  return Array.isArray(list) ? (list.filter((m) => typeof m === 'object' && m !== null && typeof (m as { name?: unknown }).name === 'string') as T[]) : [];
}
