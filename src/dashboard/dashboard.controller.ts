import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { HerdError } from '../common/herd-error';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { adminAccess } from '../security/access';
import { DashboardState, type DashboardView } from './dashboard-state';
import { CONTENT_SECURITY_POLICY, type Asset } from './static-assets';

/** Where the dashboard's files were found (undefined: not found, the page answers 404 with the reason). */
export class DashboardAssets {
  constructor(
    readonly files: Map<string, Asset> | undefined,
    readonly problem?: string,
  ) {}
}

/** The operator dashboard at /dashboard and the topology page at /topology (static files), and the JSON they poll, GET /herd/dashboard. */
@Controller()
export class DashboardController {
  constructor(
    @Inject(DashboardState) private readonly state: DashboardState,
    @Inject(DashboardAssets) private readonly assets: DashboardAssets,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
  ) {}

  @Get('dashboard')
  page(@Req() req: Request, @Res() res: Response): void {
    this.send(req, res, 'index.html');
  }

  /** Ollama Gateway's topology page: the fleet as a live graph, drawn from GET /herd/dashboard. */
  @Get('topology')
  topology(@Req() req: Request, @Res() res: Response): void {
    this.send(req, res, 'topology.html');
  }

  @Get('dashboard/:file')
  asset(@Param('file') file: string, @Req() req: Request, @Res() res: Response): void {
    this.send(req, res, file);
  }

  /** Public: node names and states. Node URLs too when the request passes the admin check (a wrong key just gets the public view). */
  @Get('herd/dashboard')
  view(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<DashboardView> {
    res.setHeader('Cache-Control', 'no-store');
    return this.state.view(adminAccess(this.config, req.headers) === 'granted');
  }

  private send(req: Request, res: Response, name: string): void {
    if (!this.assets.files) throw new HerdError(404, 'HERD_NOT_FOUND', `herd: dashboard files not found (${this.assets.problem ?? 'unknown reason'})`);
    const asset = this.assets.files.get(name);
    if (!asset) throw new HerdError(404, 'HERD_NOT_FOUND', `herd: no dashboard file named "${name}"`);
    res.setHeader('Content-Type', asset.type);
    res.setHeader('ETag', asset.etag);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    if (asset.type.startsWith('text/html')) res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    if (req.headers['if-none-match'] === asset.etag) {
      res.status(304).end();
      return;
    }
    res.status(200).send(asset.body);
  }
}
