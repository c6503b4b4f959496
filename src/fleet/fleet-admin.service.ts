import { Inject, Injectable } from '@nestjs/common';
import { HerdError } from '../common/herd-error';
import { HERD_CONFIG, type HerdConfig, type NodeConfig } from '../config/herd-config';
import { withoutAddress } from '../security/access';
import { systemLookup } from '../security/dns-lookup';
import { checkNodeUrl } from '../security/node-url-allow';
import { OllamaNodeClient } from '../upstream/ollama-node.client';
import { FleetRegistry } from './fleet-registry';
import { FleetRepository } from './fleet.repository';
import type { OllamaTags } from './fleet.types';
import { LedgerRepository } from './ledger.repository';
import { NodeHealthService } from './node-health.service';

/** What may change on a node at runtime. */
export interface NodeChanges {
  slots?: number;
  weight?: number;
  draining?: boolean;
}

/**
 * The fleet at runtime (/herd/nodes): the node list with live state and load; nodes added (probed first),
 * changed, drained and removed, kept in Redis; nodes registering themselves by heartbeat.
 */
@Injectable()
export class FleetAdminService {
  constructor(
    private readonly fleet: FleetRegistry,
    private readonly repo: FleetRepository,
    private readonly ledger: LedgerRepository,
    private readonly health: NodeHealthService,
    private readonly client: OllamaNodeClient,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
  ) {}

  /** Every node with its state, load, models and rates; its URL (and unredacted errors) only when `showUrls`. */
  async list(showUrls: boolean): Promise<{ nodes: unknown[] }> {
    const fleet = this.fleet;
    const loads = await this.ledger.loads(fleet.nodes().map((n) => n.name));
    return {
      nodes: fleet.nodes().map(({ url, ...n }) => {
        const h = fleet.health(n.name);
        const load = loads.get(n.name);
        return {
          ...n,
          ...(showUrls && { url }),
          state: fleet.nodeState(n.name),
          circuit: fleet.circuit(n.name),
          inFlight: load?.inFlight ?? 0,
          backlogTokens: load?.backlogTokens ?? 0,
          models: h?.models.map((m) => m.name) ?? [],
          resident: h?.resident ?? [],
          version: h?.version,
          failures: h?.failures ?? 0,
          lastError: showUrls ? h?.lastError : withoutAddress(h?.lastError, url),
          checkedAt: h?.checkedAt,
          rates: Object.fromEntries((h?.models ?? []).flatMap((m) => {
            const r = fleet.rates(n.name, m.name);
            return r ? [[m.name, r] as const] : [];
          })),
        };
      }),
    };
  }

  /** A new node joins once its URL is allowed and it answers like an Ollama server. */
  async add(node: NodeConfig): Promise<NodeConfig> {
    await this.checkAllowed(node.url);
    try {
      await this.client.getJson<OllamaTags>(node, '/api/tags', this.config.connectTimeoutMs * 2);
    } catch (err) {
      throw new HerdError(422, 'HERD_BAD_REQUEST', `herd: ${node.url} does not answer like an Ollama server (${(err as Error).message})`);
    }
    await this.repo.upsertNode(node);
    await this.fleet.refresh();
    await this.health.poll();
    return node;
  }

  /**
   * A node announces itself (and keeps announcing): it joins on its first heartbeat, is marked down when
   * heartbeats stop and removed after HERD_HEARTBEAT_GRACE_MS.
   */
  async heartbeat(announced: NodeConfig): Promise<{ ok: true; joined: boolean }> {
    const node = { ...announced, selfRegistered: true };
    await this.checkAllowed(node.url);
    const known = this.fleet.node(node.name);
    if (known && !known.selfRegistered) {
      // Otherwise a heartbeat could point an operator's node, and its traffic, somewhere else.
      if (known.url !== node.url) throw new HerdError(409, 'HERD_BAD_REQUEST', `herd: node "${node.name}" was added by an operator; a heartbeat cannot change its URL`);
      // Nor make it a self-registered node (removed once heartbeats stop) or change what the operator set.
      return { ok: true, joined: false };
    }
    await this.repo.recordHeartbeat(node.name, Date.now());
    const changed = !known || known.url !== node.url || !sameAnnouncement(known, node);
    if (changed) {
      await this.repo.upsertNode({ ...node, draining: known?.draining });
      await this.fleet.refresh();
      await this.health.poll();
    }
    return { ok: true, joined: !known };
  }

  async change(name: string, changes: NodeChanges): Promise<NodeConfig> {
    const node = this.existing(name);
    const next: NodeConfig = { ...node, ...(changes.slots !== undefined && { slots: changes.slots }), ...(changes.weight !== undefined && { weight: changes.weight }), ...(changes.draining !== undefined && { draining: changes.draining }) };
    await this.repo.upsertNode(next);
    await this.fleet.refresh();
    return next;
  }

  /** Removes the node for new work at once; requests already running on it finish. */
  async remove(name: string): Promise<{ removed: string }> {
    this.existing(name);
    await this.repo.removeNode(name);
    await this.fleet.refresh();
    return { removed: name };
  }

  /** HERD_NODE_URL_ALLOW, checked before Herd sends anything to the URL. */
  private async checkAllowed(url: string): Promise<void> {
    const allow = this.config.nodeUrlAllow;
    if (!allow) return;
    const verdict = await checkNodeUrl(allow, url, systemLookup(this.config.connectTimeoutMs * 2));
    if (!verdict.allowed) throw new HerdError(403, 'HERD_FORBIDDEN', `herd: node URL ${url} is not allowed: ${verdict.reason}`);
  }

  private existing(name: string): NodeConfig {
    const node = this.fleet.node(name);
    if (!node) throw new HerdError(404, 'HERD_NOT_FOUND', `herd: no node named "${name}"`);
    return node;
  }
}

/** Whether a heartbeat repeats what its node announced last (slots, weight, hints, labels): nothing to write then. */
function sameAnnouncement(known: NodeConfig, node: NodeConfig): boolean {
  return (
    known.slots === node.slots &&
    known.weight === node.weight &&
    known.memoryGb === node.memoryGb &&
    known.tokensPerSecond === node.tokensPerSecond &&
    known.promptCacheEntries === node.promptCacheEntries &&
    JSON.stringify(known.labels ?? {}) === JSON.stringify(node.labels ?? {})
  );
}
