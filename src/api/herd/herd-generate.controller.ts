import { Controller, Inject, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { resolvePriority } from '../../common/priority';
import { validateBody } from '../../common/validate-body';
import { HerdCore } from '../../core/herd-core';
import { clientAbortSignal } from '../../proxy/client-signal';
import { setHerdHeaders } from '../../proxy/herd-headers';
import { normalizeModelName, type FinalChunkTimings } from '../../scheduler';
import { HerdGenerateDto } from './herd-generate.dto';

/** The headline endpoint: Ollama's generate through Herd's queue, answered as one JSON object. */
@Controller('ollama')
export class HerdGenerateController {
  constructor(@Inject(HerdCore) private readonly core: HerdCore) {}

  @Post('generate')
  async generate(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(HerdGenerateDto, req.body);
    const priority = resolvePriority(dto.priority, req.headers['x-herd-priority']);
    const { priority: _drop, ...body } = req.body as Record<string, unknown>;
    const numPredict = typeof dto.options?.num_predict === 'number' && dto.options.num_predict >= 0 ? dto.options.num_predict : undefined;
    await this.core.inference.execute(
      {
        model: normalizeModelName(dto.model),
        priority,
        promptText: (dto.system ?? '') + dto.prompt,
        numPredict,
        upstreamPath: '/api/generate',
        upstreamBody: { ...body, stream: false },
        stream: false,
      },
      clientAbortSignal(res),
      async (upstream, attempt) => {
        const text = await upstream.body.text();
        attempt.committed = true;
        setHerdHeaders(res, attempt);
        res.status(upstream.statusCode).type('application/json').send(text);
        if (upstream.statusCode === 200) attempt.final = JSON.parse(text) as FinalChunkTimings;
      },
    );
  }
}
