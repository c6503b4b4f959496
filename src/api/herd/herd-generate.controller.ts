import { Controller, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { validateBody } from '../../admission/validate-body';
import { HerdCore } from '../../core/herd-core';
import { numPredictOf } from '../../admission/request-text';
import { routeInference } from '../inference-route';
import { HerdGenerateDto } from './herd-generate.dto';

/** The headline endpoint: Ollama's generate through Herd's queue, answered as one JSON object unless stream is true. */
@Controller('ollama')
export class HerdGenerateController {
  constructor(@Inject(HerdCore) private readonly core: HerdCore) {}

  @Post('generate')
  @HttpCode(200)
  async generate(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(HerdGenerateDto, req.body);
    await routeInference(this.core, req, res, {
      path: '/api/generate',
      model: dto.model,
      bodyPriority: dto.priority,
      promptText: (dto.system ?? '') + dto.prompt,
      numPredict: numPredictOf(dto.options),
      stream: dto.stream ?? false,
      format: 'ndjson',
    });
  }
}
