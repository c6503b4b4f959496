import { Controller, Get, Head, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { HerdError } from '../../common/herd-error';
import { validateBody } from '../../admission/validate-body';
import { HerdCore } from '../../core/herd-core';
import { lowestVersion, unionTags } from '../../fleet/fleet-views';
import type { OllamaPs } from '../../fleet/fleet.types';
import { completeModelName, findModel, normalizeModelName, spellingForNode } from '../../scheduler';
import { RoutedDto } from './ollama-inference.dto';

const HERD_VERSION = '0.0.0';

/** Routes that describe the whole fleet as if it were one Ollama server. */
@Controller()
export class OllamaFleetController {
  constructor(@Inject(HerdCore) private readonly core: HerdCore) {}

  @Get()
  @Head()
  root(@Res() res: Response): void {
    res.type('text/plain').send('Ollama is running');
  }

  @Get('api/version')
  @Head('api/version')
  version(): { version: string } {
    return { version: lowestVersion(this.core.fleet.upNodes().map((n) => this.core.fleet.health(n.name)?.version)) ?? HERD_VERSION };
  }

  @Get('api/tags')
  @Head('api/tags')
  tags(): { models: unknown[] } {
    return { models: unionTags(this.core.fleet.upNodes().map((n) => this.core.fleet.health(n.name)?.tags ?? [])) };
  }

  /** Live: what is loaded changes by the second, so every up node is asked now. */
  @Get('api/ps')
  async ps(): Promise<{ models: unknown[] }> {
    const timeout = this.core.config.connectTimeoutMs * 2;
    const lists = await Promise.all(
      this.core.fleet.upNodes().map((n) =>
        this.core.client.getJson<OllamaPs>(n, '/api/ps', timeout).then(
          (ps) => (ps.models ?? []).map((m) => ({ ...m, node: n.name })),
          () => [],
        ),
      ),
    );
    return { models: lists.flat() };
  }

  @Post('api/show')
  @HttpCode(200)
  async show(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(RoutedDto, req.body);
    const model = normalizeModelName(dto.model);
    const node = this.core.fleet.nodesWithModel(model)[0];
    if (!node) throw HerdError.modelNotFound(completeModelName(dto.model));
    // The node is asked under its own spelling of the model (it may store names case-sensitively).
    const spelling = spellingForNode(dto.model, this.core.fleet.modelNameOn(node.name, model));
    const { priority: _drop, ...body } = req.body as Record<string, unknown>;
    const upstream = await this.core.client.request(node, {
      method: 'POST',
      path: '/api/show',
      body: JSON.stringify(spelling === undefined ? body : { ...body, model: spelling }),
      headersTimeoutMs: this.core.config.firstByteTimeoutMs,
      bodyTimeoutMs: this.core.config.idleTimeoutMs,
    });
    const text = await upstream.body.text();
    if (upstream.statusCode === 404) {
      // One answer does not take the model away: the node's own list decides (see NodeHealthService.recheckModel).
      void this.core.nodeHealth.recheckModel(node.name, model).catch(() => undefined);
      throw HerdError.modelNotFound(completeModelName(dto.model));
    }
    res.status(upstream.statusCode).type('application/json').setHeader('X-Herd-Node', node.name);
    res.send(text);
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
