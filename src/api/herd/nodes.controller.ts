import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { HerdError } from '../../common/herd-error';
import { validateBody } from '../../admission/validate-body';
import type { NodeConfig } from '../../config/herd-config';
import { parseNodes } from '../../config/load-config';
import { HerdCore } from '../../core/herd-core';
import type { OllamaTags } from '../../fleet/fleet.types';
import { adminAccess, withoutAddress } from '../../security/access';
import { systemLookup } from '../../security/dns-lookup';
import { checkNodeUrl } from '../../security/node-url-allow';
import { AdminKeyGuard } from './admin-key.guard';
import { NodeKeyGuard } from './node-key.guard';
import { NodePatchDto } from './node-patch.dto';

/** The fleet at runtime: list with live state; add, change, drain and remove nodes (kept in Redis). */
@Controller('herd/nodes')
export class NodesController {
  constructor(@Inject(HerdCore) private readonly core: HerdCore) {}

  /** Node URLs only for callers who pass the admin check (the key, or no key on loopback); names and state for all. */
  @Get()
  async list(@Req() req: Request): Promise<{ nodes: unknown[] }> {
    const fleet = this.core.fleet;
    const showUrls = adminAccess(this.core.config, req.headers) === 'granted';
    const loads = await this.core.ledger.loads(fleet.nodes().map((n) => n.name));
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

  @Post()
  @UseGuards(AdminKeyGuard)
  async add(@Body() body: unknown): Promise<NodeConfig> {
    const { nodes, problems } = parseNodes([body], 'node');
    if (problems.length) throw HerdError.badRequest(problems.join('; '));
    const node = nodes[0];
    await this.checkAllowed(node.url);
    try {
      await this.core.client.getJson<OllamaTags>(node, '/api/tags', this.core.config.connectTimeoutMs * 2);
    } catch (err) {
      throw new HerdError(422, 'HERD_BAD_REQUEST', `herd: ${node.url} does not answer like an Ollama server (${(err as Error).message})`);
    }
    await this.core.fleetRepo.upsertNode(node);
    await this.core.fleet.refresh();
    await this.core.nodeHealth.poll();
    return node;
  }

  /**
   * A node announces itself (and keeps announcing): it joins on its first heartbeat, is marked down when
   * heartbeats stop and removed after HERD_HEARTBEAT_GRACE_MS. Optional load figures are accepted and ignored.
   */
  @Post('heartbeat')
  @HttpCode(200)
  @UseGuards(NodeKeyGuard)
  async heartbeat(@Body() body: unknown): Promise<{ ok: true; joined: boolean }> {
    const { name, url, slots, weight, memoryGb, tokensPerSecond, labels } = (body ?? {}) as Record<string, unknown>;
    const { nodes, problems } = parseNodes([{ name, url, slots, weight, memoryGb, tokensPerSecond, labels }].map(dropUndefined), 'heartbeat');
    if (problems.length) throw HerdError.badRequest(problems.join('; '));
    const node = { ...nodes[0], selfRegistered: true };
    await this.checkAllowed(node.url);
    const known = this.core.fleet.node(node.name);
    if (known && !known.selfRegistered && known.url !== node.url) {
      // Otherwise a heartbeat could point an operator's node, and its traffic, somewhere else.
      throw new HerdError(409, 'HERD_BAD_REQUEST', `herd: node "${node.name}" was added by an operator; a heartbeat cannot change its URL`);
    }
    await this.core.fleetRepo.recordHeartbeat(node.name, Date.now());
    const changed = !known || known.url !== node.url || known.slots !== node.slots || known.weight !== node.weight;
    if (changed) {
      await this.core.fleetRepo.upsertNode({ ...node, draining: known?.draining });
      await this.core.fleet.refresh();
      await this.core.nodeHealth.poll();
    }
    return { ok: true, joined: !known };
  }

  @Patch(':name')
  @UseGuards(AdminKeyGuard)
  async patch(@Param('name') name: string, @Body() body: unknown): Promise<NodeConfig> {
    const dto = validateBody(NodePatchDto, body);
    const node = this.existing(name);
    const next: NodeConfig = { ...node, ...(dto.slots !== undefined && { slots: dto.slots }), ...(dto.weight !== undefined && { weight: dto.weight }), ...(dto.draining !== undefined && { draining: dto.draining }) };
    await this.core.fleetRepo.upsertNode(next);
    await this.core.fleet.refresh();
    return next;
  }

  @Post(':name/drain')
  @HttpCode(200)
  @UseGuards(AdminKeyGuard)
  drain(@Param('name') name: string): Promise<NodeConfig> {
    return this.patch(name, { draining: true });
  }

  @Post(':name/undrain')
  @HttpCode(200)
  @UseGuards(AdminKeyGuard)
  undrain(@Param('name') name: string): Promise<NodeConfig> {
    return this.patch(name, { draining: false });
  }

  /** Removes the node for new work at once; requests already running on it finish. */
  @Delete(':name')
  @UseGuards(AdminKeyGuard)
  async remove(@Param('name') name: string): Promise<{ removed: string }> {
    this.existing(name);
    await this.core.fleetRepo.removeNode(name);
    await this.core.fleet.refresh();
    return { removed: name };
  }

  /** HERD_NODE_URL_ALLOW, checked before Herd sends anything to the URL. */
  private async checkAllowed(url: string): Promise<void> {
    const allow = this.core.config.nodeUrlAllow;
    if (!allow) return;
    const verdict = await checkNodeUrl(allow, url, systemLookup(this.core.config.connectTimeoutMs * 2));
    if (!verdict.allowed) throw new HerdError(403, 'HERD_FORBIDDEN', `herd: node URL ${url} is not allowed: ${verdict.reason}`);
  }

  private existing(name: string): NodeConfig {
    const node = this.core.fleet.node(name);
    if (!node) throw new HerdError(404, 'HERD_NOT_FOUND', `herd: no node named "${name}"`);
    return node;
  }
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
