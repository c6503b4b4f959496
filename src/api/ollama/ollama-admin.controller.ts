import { Controller, Delete, Head, HttpCode, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import { IsBoolean, IsOptional, IsString } from 'class-validator';
import type { Request, Response } from 'express';
import { validateBody } from '../../admission/validate-body';
import { HerdError } from '../../common/herd-error';
import { isDigest, ModelAdminService } from '../../models/model-admin.service';
import { clientAbortSignal } from '../../relay/client-signal';
import { AdminKeyGuard } from '../herd/key-guards';

/** Fields of pull / push / create / delete: Ollama takes `model`, and still `name` (the ollama npm client sends it). */
class ModelBodyDto {
  @IsOptional() @IsString({ message: 'model must be a string' })
  model?: string;

  @IsOptional() @IsString({ message: 'name must be a string' })
  name?: string;

  @IsOptional() @IsBoolean({ message: 'stream must be true or false' })
  stream?: boolean;

  @IsOptional() @IsBoolean({ message: 'insecure must be true or false' })
  insecure?: boolean;
}

class CreateDto extends ModelBodyDto {
  @IsOptional() @IsString({ message: 'from must be a string' })
  from?: string;
}

class CopyDto {
  @IsOptional() @IsString({ message: 'source must be a string' })
  source?: string;

  @IsOptional() @IsString({ message: 'destination must be a string' })
  destination?: string;
}

/** Which field of the body names the model: `model`, else the legacy `name`. */
function modelField(dto: ModelBodyDto): 'model' | 'name' {
  return dto.model?.trim() ? 'model' : 'name';
}

/** The model a body names (`model`, else `name`); 400 `model is required` when neither does. */
function modelOf(dto: ModelBodyDto): string {
  const name = dto.model?.trim() ? dto.model : dto.name;
  if (!name?.trim()) throw HerdError.badRequest('model is required');
  return name;
}

function queryList(value: unknown): string[] {
  const parts = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
  return parts
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

/** Ollama's model-admin routes for a fleet (see ModelAdminService): the body checked, the work done there. */
@Controller('api')
@UseGuards(AdminKeyGuard)
export class OllamaAdminController {
  constructor(private readonly models: ModelAdminService) {}

  /** `POST /api/pull[?nodes=a,b]`: every reachable node (or the named ones) pulls; one merged progress stream. */
  @Post('pull')
  @HttpCode(200)
  async pull(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(ModelBodyDto, req.body);
    modelOf(dto);
    await this.models.pull(res, clientAbortSignal(res), bodyOf(req), dto.stream ?? true, queryList(req.query.nodes));
  }

  /** `POST /api/push`: one node that has the model pushes it; its progress is streamed back. */
  @Post('push')
  @HttpCode(200)
  async push(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(ModelBodyDto, req.body);
    const model = modelOf(dto);
    await this.models.push(res, clientAbortSignal(res), bodyOf(req), dto.stream ?? true, model, modelField(dto));
  }

  /** `POST /api/create[?node=x]`: on the pinned node (where the blobs went); progress streamed back. */
  @Post('create')
  @HttpCode(200)
  async create(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(CreateDto, req.body);
    modelOf(dto);
    await this.models.create(res, clientAbortSignal(res), bodyOf(req), dto.stream ?? true, dto.from, queryList(req.query.node)[0]);
  }

  /** `DELETE /api/delete`: every reachable node that has the model deletes it. */
  @Delete('delete')
  async remove(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(ModelBodyDto, req.body);
    const model = modelOf(dto);
    await this.models.everywhere(res, clientAbortSignal(res), 'DELETE', '/api/delete', bodyOf(req), model, modelField(dto));
  }

  /** `POST /api/copy`: every reachable node that has `source` copies it to `destination`. */
  @Post('copy')
  @HttpCode(200)
  async copy(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(CopyDto, req.body);
    if (!dto.source?.trim()) throw HerdError.badRequest(`source "${dto.source ?? ''}" is invalid`);
    if (!dto.destination?.trim()) throw HerdError.badRequest(`destination "${dto.destination ?? ''}" is invalid`);
    await this.models.everywhere(res, clientAbortSignal(res), 'POST', '/api/copy', bodyOf(req), dto.source, 'source');
  }

  /** `HEAD /api/blobs/:digest[?node=x]`: whether the pinned node has the blob (200 / 404). */
  @Head('blobs/:digest')
  async headBlob(@Param('digest') digest: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    if (!isDigest(digest)) throw HerdError.badRequest('invalid digest format');
    await this.models.headBlob(res, clientAbortSignal(res), digest, queryList(req.query.node)[0]);
  }

  /**
   * `POST /api/blobs/:digest[?node=x]`: the body streams through to the pinned node as it arrives, never held
   * whole in memory (the JSON body parser skips this path).
   */
  @Post('blobs/:digest')
  async postBlob(@Param('digest') digest: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    if (!isDigest(digest)) throw HerdError.badRequest('invalid digest format');
    const headers: Record<string, string> = { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' };
    if (req.headers['content-length'] !== undefined) headers['content-length'] = req.headers['content-length'];
    await this.models.postBlob(res, clientAbortSignal(res), digest, queryList(req.query.node)[0], req, headers);
  }
}

/** The client's body for the nodes, without Herd's own `priority`. */
function bodyOf(req: Request): Record<string, unknown> {
  const { priority: _drop, ...body } = req.body as Record<string, unknown>;
  return body;
}
