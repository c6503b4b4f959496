import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { validateBody } from '../../admission/validate-body';
import { inputText, messagesText } from '../../admission/request-text';
import { messageParts, promptParts } from '../../scheduler/prefix-chain';
import { InferenceRoute } from '../inference-route';
import { OpenAiChatDto, OpenAiCompletionDto, OpenAiEmbeddingsDto } from '../ollama/ollama-inference.dto';

/** OpenAI-compatible inference routes, through the queue; nodes answer them natively (Ollama serves /v1). */
@Controller('v1')
export class OpenAiInferenceController {
  constructor(private readonly route: InferenceRoute) {}

  @Post('chat/completions')
  @HttpCode(200)
  async chat(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(OpenAiChatDto, req.body);
    await this.route.serve(req, res, {
      path: '/v1/chat/completions',
      model: dto.model,
      bodyPriority: dto.priority,
      promptText: messagesText(dto.messages),
      prefixParts: () => messageParts(dto.messages),
      numPredict: dto.max_tokens,
      stream: dto.stream ?? false,
      format: 'sse',
    });
  }

  @Post('completions')
  @HttpCode(200)
  async completions(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(OpenAiCompletionDto, req.body);
    await this.route.serve(req, res, {
      path: '/v1/completions',
      model: dto.model,
      bodyPriority: dto.priority,
      promptText: inputText(dto.prompt),
      prefixParts: () => (typeof dto.prompt === 'string' ? promptParts(dto.prompt) : []),
      numPredict: dto.max_tokens,
      stream: dto.stream ?? false,
      format: 'sse',
    });
  }

  @Post('embeddings')
  @HttpCode(200)
  async embeddings(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(OpenAiEmbeddingsDto, req.body);
    await this.route.serve(req, res, {
      path: '/v1/embeddings',
      model: dto.model,
      bodyPriority: dto.priority,
      promptText: inputText(dto.input),
      numPredict: 0,
      stream: false,
      format: 'sse',
    });
  }
}
