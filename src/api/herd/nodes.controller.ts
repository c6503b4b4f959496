import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { validateBody } from '../../admission/validate-body';
import { HerdError } from '../../common/herd-error';
import { HERD_CONFIG, type HerdConfig, type NodeConfig } from '../../config/herd-config';
import { parseNodes } from '../../config/load-config';
import { FleetAdminService } from '../../fleet/fleet-admin.service';
import { adminAccess } from '../../security/access';
import { AdminKeyGuard, NodeKeyGuard } from './key-guards';
import { NodePatchDto } from './node-patch.dto';

/** The fleet at runtime: list with live state; add, change, drain and remove nodes (kept in Redis). */
@Controller('herd/nodes')
export class NodesController {
  constructor(
    private readonly nodes: FleetAdminService,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
  ) {}

  /** Node URLs only for callers who pass the admin check (the key, or no key on loopback); names and state for all. */
  @Get()
  async list(@Req() req: Request): Promise<{ nodes: unknown[] }> {
    return await this.nodes.list(adminAccess(this.config, req.headers) === 'granted');
  }

  @Post()
  @UseGuards(AdminKeyGuard)
  async add(@Body() body: unknown): Promise<NodeConfig> {
    const { nodes, problems } = parseNodes([body], 'node');
    if (problems.length) throw HerdError.badRequest(problems.join('; '));
    return await this.nodes.add(nodes[0]);
  }

  /** A node announces itself (see FleetAdminService.heartbeat). Optional load figures are accepted and ignored. */
  @Post('heartbeat')
  @HttpCode(200)
  @UseGuards(NodeKeyGuard)
  async heartbeat(@Body() body: unknown): Promise<{ ok: true; joined: boolean }> {
    const { name, url, slots, weight, memoryGb, tokensPerSecond, labels } = (body ?? {}) as Record<string, unknown>;
    const { nodes, problems } = parseNodes([{ name, url, slots, weight, memoryGb, tokensPerSecond, labels }].map(dropUndefined), 'heartbeat');
    if (problems.length) throw HerdError.badRequest(problems.join('; '));
    return await this.nodes.heartbeat(nodes[0]);
  }

  @Patch(':name')
  @UseGuards(AdminKeyGuard)
  async patch(@Param('name') name: string, @Body() body: unknown): Promise<NodeConfig> {
    return await this.nodes.change(name, validateBody(NodePatchDto, body));
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
    return await this.nodes.remove(name);
  }
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
