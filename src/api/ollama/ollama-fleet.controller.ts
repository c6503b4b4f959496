import { Controller, Get, Head, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { HerdError } from '../../common/herd-error';
import { validateBody } from '../../admission/validate-body';
import { ModelInfoService } from '../../models/model-info.service';
import { findModel } from '../../scheduler';
import { RoutedDto } from '../../admission/inference.dto';

const HERD_VERSION = '0.0.0';

/** Routes that describe the whole fleet as if it were one Ollama server. */
@Controller()
export class OllamaFleetController {
  constructor(private readonly info: ModelInfoService) {}

  @Get()
  @Head()
  root(@Res() res: Response): void {
    res.type('text/plain').send('Ollama is running');
  }

  @Get('api/version')
  @Head('api/version')
  version(): { version: string } {
    return { version: this.info.version() ?? HERD_VERSION };
  }

  @Get('api/tags')
  @Head('api/tags')
  tags(): { models: unknown[] } {
    return { models: this.info.tags() };
  }

  /** Live: what is loaded changes by the second, so every up node is asked now. */
  @Get('api/ps')
  async ps(): Promise<{ models: unknown[] }> {
    return { models: await this.info.ps() };
  }

  @Post('api/show')
  @HttpCode(200)
  async show(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(RoutedDto, req.body);
    const { priority: _drop, ...body } = req.body as Record<string, unknown>;
    const answer = await this.info.show(body, dto.model);
    res.status(answer.status).type('application/json').setHeader('X-Herd-Node', answer.node);
    res.send(answer.text);
  }

  @Get('v1/models')
  models(): { object: 'list'; data: unknown[] } {
    return { object: 'list', data: this.tags().models.map((m) => toOpenAiModel(m as { name: string; modified_at?: string })) };
  }

  @Get('v1/models/:model')
  model(@Param('model') name: string): unknown {
    const found = findModel(this.tags().models as { name: string; modified_at?: string }[], name);
    if (!found) throw new HerdError(404, 'HERD_MODEL_NOT_FOUND', `model "${name}" not found`);
    return toOpenAiModel(found);
  }
}

function toOpenAiModel(m: { name: string; modified_at?: string }): { id: string; object: 'model'; created: number; owned_by: string } {
  const created = m.modified_at ? Math.floor(Date.parse(m.modified_at) / 1000) : 0;
  return { id: m.name, object: 'model', created: Number.isFinite(created) ? created : 0, owned_by: 'library' };
}
