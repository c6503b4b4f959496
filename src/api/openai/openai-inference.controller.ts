import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { INFERENCE_ROUTES } from '../../admission/route-specs';
import { InferenceRoute } from '../inference-route';

/** OpenAI-compatible inference routes, through the queue; nodes answer them natively (Ollama serves /v1). */
@Controller('v1')
export class OpenAiInferenceController {
  constructor(private readonly route: InferenceRoute) {}

  @Post('chat/completions')
  @HttpCode(200)
  async chat(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.route.serve(req, res, INFERENCE_ROUTES['/v1/chat/completions'](req.body));
  }

  @Post('completions')
  @HttpCode(200)
  async completions(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.route.serve(req, res, INFERENCE_ROUTES['/v1/completions'](req.body));
  }

  @Post('embeddings')
  @HttpCode(200)
  async embeddings(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.route.serve(req, res, INFERENCE_ROUTES['/v1/embeddings'](req.body));
  }
}
