import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { validateBody } from '../../admission/validate-body';
import { numPredictOf } from '../../admission/request-text';
import { promptParts } from '../../scheduler/prefix-chain';
import { InferenceRoute } from '../inference-route';
import { HerdGenerateDto } from './herd-generate.dto';

/** The headline endpoint: Ollama's generate through Herd's queue, answered as one JSON object unless stream is true. */
@Controller('ollama')
export class HerdGenerateController {
  constructor(private readonly route: InferenceRoute) {}

  @Post('generate')
  @HttpCode(200)
  async generate(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(HerdGenerateDto, req.body);
    await this.route.serve(req, res, {
      path: '/api/generate',
      model: dto.model,
      bodyPriority: dto.priority,
      promptText: (dto.system ?? '') + dto.prompt,
      prefixParts: () => promptParts(dto.prompt, dto.system),
      numPredict: numPredictOf(dto.options),
      stream: dto.stream ?? false,
      format: 'ndjson',
    });
  }
}
