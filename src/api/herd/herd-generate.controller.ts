import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { INFERENCE_ROUTES } from '../../admission/route-specs';
import { InferenceRoute } from '../inference-route';

/** The headline endpoint: Ollama's generate through Herd's queue, answered as one JSON object unless stream is true. */
@Controller('ollama')
export class HerdGenerateController {
  constructor(private readonly route: InferenceRoute) {}

  @Post('generate')
  @HttpCode(200)
  async generate(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.route.serve(req, res, INFERENCE_ROUTES['/ollama/generate'](req.body));
  }
}
