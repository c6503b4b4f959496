import { Body, Controller, Get, HttpCode, Inject, Post, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { validateBody } from '../../admission/validate-body';
import { HERD_CONFIG, type HerdConfig } from '../../config/herd-config';
import { adminAccess } from '../../security/access';
import { NodeKeyGuard } from '../herd/key-guards';
import type { CoordinatorAgent } from './fleet-shapes';
import { SeedFleetService } from './seed-fleet.service';
import { AgentHealthDto, RegisterAgentDto } from './seed.dto';

/**
 * Ollama Coordinator's agent routes (docs/coming-from.md). Registering and reporting are node heartbeats, so they
 * need HERD_NODE_KEY like POST /herd/nodes/heartbeat; the list shows addresses only to callers who pass the admin check.
 */
@Controller('api')
export class CoordinatorController {
  constructor(
    private readonly fleet: SeedFleetService,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
  ) {}

  @Post('agents')
  @UseGuards(NodeKeyGuard)
  register(@Body() body: unknown): Promise<{ agent_id: string; status: 'registered' }> {
    return this.fleet.register(validateBody(RegisterAgentDto, body));
  }

  @Get('agents')
  agents(@Req() req: Request): Promise<CoordinatorAgent[]> {
    return this.fleet.agents(adminAccess(this.config, req.headers) === 'granted');
  }

  @Post('health')
  @HttpCode(200)
  @UseGuards(NodeKeyGuard)
  health(@Body() body: unknown): Promise<{ status: 'ok' }> {
    return this.fleet.report(validateBody(AgentHealthDto, body));
  }
}
