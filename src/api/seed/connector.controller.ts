import { Controller, Get, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { INFERENCE_ROUTES } from '../../admission/route-specs';
import { validateBody } from '../../admission/validate-body';
import { HERD_CONFIG, type HerdConfig } from '../../config/herd-config';
import { adminAccess } from '../../security/access';
import { InferenceRoute } from '../inference-route';
import type { ConnectorNode } from './fleet-shapes';
import { SeedFleetService } from './seed-fleet.service';
import { ConnectorJobDto } from './seed.dto';

/** Ollama Connector's hub routes (docs/coming-from.md). Addresses only for callers who pass the admin check. */
@Controller()
export class ConnectorController {
  constructor(
    private readonly route: InferenceRoute,
    private readonly fleet: SeedFleetService,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
  ) {}

  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('nodes')
  nodes(@Req() req: Request): Promise<ConnectorNode[]> {
    return this.fleet.connectorNodes(adminAccess(this.config, req.headers) === 'granted');
  }

  @Get('nodes/:id')
  node(@Param('id') id: string, @Req() req: Request): Promise<ConnectorNode> {
    return this.fleet.connectorNode(id, adminAccess(this.config, req.headers) === 'granted');
  }

  /** Ollama's /api/generate, synchronous; `stream` absent means true, as in Connector (and Ollama). */
  @Post('jobs')
  @HttpCode(200)
  async job(@Req() req: Request, @Res() res: Response): Promise<void> {
    validateBody(ConnectorJobDto, req.body);
    await this.route.serve(req, res, INFERENCE_ROUTES['/api/generate'](req.body));
  }
}
