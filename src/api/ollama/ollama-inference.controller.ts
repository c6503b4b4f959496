import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { validateBody } from '../../admission/validate-body';
import { inputText, messagesText, numPredictOf } from '../../admission/request-text';
import { messageParts, promptParts } from '../../scheduler/prefix-chain';
import { InferenceRoute } from '../inference-route';
import { ChatDto, EmbedDto, EmbeddingsDto, GenerateDto } from './ollama-inference.dto';

/** Ollama's inference routes, through the queue. As in Ollama, `stream` absent means true. */
@Controller('api')
export class OllamaInferenceController {
  constructor(private readonly route: InferenceRoute) {}

  @Post('generate')
  @HttpCode(200)
  async generate(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(GenerateDto, req.body);
    await this.route.serve(req, res, {
      path: '/api/generate',
      model: dto.model,
      bodyPriority: dto.priority,
      promptText: (dto.system ?? '') + (dto.prompt ?? '') + (dto.suffix ?? ''),
      prefixParts: () => promptParts(dto.prompt ?? '', dto.system),
      numPredict: numPredictOf(dto.options),
      stream: dto.stream ?? true,
      format: 'ndjson',
    });
  }

  @Post('chat')
  @HttpCode(200)
  async chat(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(ChatDto, req.body);
    await this.route.serve(req, res, {
      path: '/api/chat',
      model: dto.model,
      bodyPriority: dto.priority,
      promptText: messagesText(dto.messages),
      prefixParts: () => messageParts(dto.messages ?? []),
      numPredict: numPredictOf(dto.options),
      stream: dto.stream ?? true,
      format: 'ndjson',
    });
  }

  @Post('embed')
  @HttpCode(200)
  async embed(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(EmbedDto, req.body);
    await this.route.serve(req, res, {
      path: '/api/embed',
      model: dto.model,
      bodyPriority: dto.priority,
      promptText: inputText(dto.input),
      numPredict: 0,
      stream: false,
      format: 'ndjson',
    });
  }

  @Post('embeddings')
  @HttpCode(200)
  async embeddings(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(EmbeddingsDto, req.body);
    await this.route.serve(req, res, {
      path: '/api/embeddings',
      model: dto.model,
      bodyPriority: dto.priority,
      promptText: dto.prompt ?? '',
      numPredict: 0,
      stream: false,
      format: 'ndjson',
    });
  }
}
