import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { INFERENCE_ROUTES } from '../../admission/route-specs';
import { InferenceRoute } from '../inference-route';

/** Ollama's inference routes, through the queue (bodies read by admission/route-specs.ts). As in Ollama, `stream` absent means true. */
@Controller('api')
export class OllamaInferenceController {
  constructor(private readonly route: InferenceRoute) {}

  @Post('generate')
  @HttpCode(200)
  async generate(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.route.serve(req, res, INFERENCE_ROUTES['/api/generate'](req.body));
  }

  @Post('chat')
  @HttpCode(200)
  async chat(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.route.serve(req, res, INFERENCE_ROUTES['/api/chat'](req.body));
  }

  @Post('embed')
  @HttpCode(200)
  async embed(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.route.serve(req, res, INFERENCE_ROUTES['/api/embed'](req.body));
  }

  @Post('embeddings')
  @HttpCode(200)
  async embeddings(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.route.serve(req, res, INFERENCE_ROUTES['/api/embeddings'](req.body));
  }
}
