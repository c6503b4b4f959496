import { Inject, Injectable } from '@nestjs/common';
import { HerdError } from '../common/herd-error';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { lowestVersion, unionTags } from '../fleet/fleet-views';
import { FleetRegistry } from '../fleet/fleet-registry';
import type { OllamaPs, OllamaTagEntry } from '../fleet/fleet.types';
import { NodeHealthService } from '../fleet/node-health.service';
import { completeModelName, normalizeModelName, spellingForNode } from '../scheduler';
import { OllamaNodeClient } from '../upstream/ollama-node.client';

/** What a node answered to /api/show, to pass on as it is. */
export interface ShowAnswer {
  node: string;
  status: number;
  text: string;
}

/** The fleet described as if it were one Ollama server: version, tags, what is loaded, a model's details. */
@Injectable()
export class ModelInfoService {
  constructor(
    private readonly fleet: FleetRegistry,
    private readonly health: NodeHealthService,
    private readonly client: OllamaNodeClient,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
  ) {}

  /** The oldest version among the nodes that are up (undefined when none said). */
  version(): string | undefined {
    return lowestVersion(this.fleet.upNodes().map((n) => this.fleet.health(n.name)?.version));
  }

  /** Every model the nodes that are up list, once each (see unionTags). */
  tags(): OllamaTagEntry[] {
    return unionTags(this.fleet.upNodes().map((n) => this.fleet.health(n.name)?.tags ?? []));
  }

  /** Live: what is loaded changes by the second, so every up node is asked now. */
  async ps(): Promise<unknown[]> {
    const timeout = this.config.connectTimeoutMs * 2;
    const lists = await Promise.all(
      this.fleet.upNodes().map((n) =>
        this.client.getJson<OllamaPs>(n, '/api/ps', timeout).then(
          (ps) => (ps.models ?? []).map((m) => ({ ...m, node: n.name })),
          () => [],
        ),
      ),
    );
    return lists.flat();
  }

  /** /api/show from a node that has the model, asked under its own spelling of it (it may store names case-sensitively). */
  async show(body: Record<string, unknown>, requested: string): Promise<ShowAnswer> {
    const model = normalizeModelName(requested);
    const node = this.fleet.nodesWithModel(model)[0];
    if (!node) throw HerdError.modelNotFound(completeModelName(requested));
    const spelling = spellingForNode(requested, this.fleet.modelNameOn(node.name, model));
    const upstream = await this.client.request(node, {
      method: 'POST',
      path: '/api/show',
      body: JSON.stringify(spelling === undefined ? body : { ...body, model: spelling }),
      headersTimeoutMs: this.config.firstByteTimeoutMs,
      bodyTimeoutMs: this.config.idleTimeoutMs,
    });
    const text = await upstream.body.text();
    if (upstream.statusCode === 404) {
      // One answer does not take the model away: the node's own list decides (see NodeHealthService.recheckModel).
      void this.health.recheckModel(node.name, model).catch(() => undefined);
      throw HerdError.modelNotFound(completeModelName(requested));
    }
    return { node: node.name, status: upstream.statusCode, text };
  }
}
