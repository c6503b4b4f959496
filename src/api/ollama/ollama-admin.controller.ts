import { Controller, Delete, Head, HttpCode, Inject, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import { IsBoolean, IsOptional, IsString } from 'class-validator';
import type { Request, Response } from 'express';
import { CanceledError, HerdError } from '../../common/herd-error';
import { validateBody } from '../../admission/validate-body';
import type { NodeConfig } from '../../config/herd-config';
import { HerdCore } from '../../core/herd-core';
import { clientAbortSignal } from '../../relay/client-signal';
import { errorText, failureError, fanOut, relayProgress, transportOutcome, type AdminTimeouts } from '../../relay/progress-relay';
import { findModel, spellingForNode } from '../../scheduler';
import type { UpstreamRequest, UpstreamResponse } from '../../upstream/ollama-node.client';
import { AdminKeyGuard } from '../herd/admin-key.guard';

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

const DIGEST = /^sha256[:-][0-9a-f]{64}$/;

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

function byName(a: NodeConfig, b: NodeConfig): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Ollama's model-admin routes for a fleet. Pull goes to every node (progress merged into one stream);
 * delete and copy to every node that has the model; create and blob uploads to one pinned node, so a
 * create finds the blobs uploaded for it; push to one node that has the model. After a change the fleet
 * is polled at once, so a pulled or created model is routable as soon as the client sees success.
 */
@Controller('api')
@UseGuards(AdminKeyGuard)
export class OllamaAdminController {
  constructor(@Inject(HerdCore) private readonly core: HerdCore) {}

  /** `POST /api/pull[?nodes=a,b]`: every reachable node (or the named ones) pulls; one merged progress stream. */
  @Post('pull')
  @HttpCode(200)
  async pull(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(ModelBodyDto, req.body);
    modelOf(dto);
    const nodes = this.targetNodes(req.query.nodes);
    res.setHeader('X-Herd-Node', nodes.map((n) => n.name).join(','));
    await relayProgress(this.core.client, this.progressTimeouts(), { path: '/api/pull', body: this.body(req), nodes, stream: dto.stream ?? true, fanOut: true, afterAll: () => this.poll() }, res, clientAbortSignal(res));
  }

  /** `POST /api/push`: one node that has the model pushes it; its progress is streamed back. */
  @Post('push')
  @HttpCode(200)
  async push(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(ModelBodyDto, req.body);
    const model = modelOf(dto);
    const node = this.nodesHaving(model)[0];
    if (!node) throw new HerdError(404, 'HERD_MODEL_NOT_FOUND', `model "${model}" not found`);
    res.setHeader('X-Herd-Node', node.name);
    const body = this.spelledFor(node, this.body(req), modelField(dto), model);
    await relayProgress(this.core.client, this.progressTimeouts(), { path: '/api/push', body, nodes: [node], stream: dto.stream ?? true, fanOut: false }, res, clientAbortSignal(res));
  }

  /** `POST /api/create[?node=x]`: on the pinned node (where the blobs went); progress streamed back. */
  @Post('create')
  @HttpCode(200)
  async create(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(CreateDto, req.body);
    modelOf(dto);
    const node = this.createNode(req.query.node, req.body as Record<string, unknown>, dto.from);
    res.setHeader('X-Herd-Node', node.name);
    const body = dto.from === undefined || DIGEST.test(dto.from) ? this.body(req) : this.spelledFor(node, this.body(req), 'from', dto.from);
    await relayProgress(this.core.client, this.progressTimeouts(), { path: '/api/create', body, nodes: [node], stream: dto.stream ?? true, fanOut: false, afterAll: () => this.poll() }, res, clientAbortSignal(res));
  }

  /** `DELETE /api/delete`: every reachable node that has the model deletes it. */
  @Delete('delete')
  async remove(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(ModelBodyDto, req.body);
    const model = modelOf(dto);
    await this.everywhere(res, 'DELETE', '/api/delete', this.body(req), model, modelField(dto));
  }

  /** `POST /api/copy`: every reachable node that has `source` copies it to `destination`. */
  @Post('copy')
  @HttpCode(200)
  async copy(@Req() req: Request, @Res() res: Response): Promise<void> {
    const dto = validateBody(CopyDto, req.body);
    if (!dto.source?.trim()) throw HerdError.badRequest(`source "${dto.source ?? ''}" is invalid`);
    if (!dto.destination?.trim()) throw HerdError.badRequest(`destination "${dto.destination ?? ''}" is invalid`);
    await this.everywhere(res, 'POST', '/api/copy', this.body(req), dto.source, 'source');
  }

  /** `HEAD /api/blobs/:digest[?node=x]`: whether the pinned node has the blob (200 / 404). */
  @Head('blobs/:digest')
  async headBlob(@Param('digest') digest: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    if (!DIGEST.test(digest)) throw HerdError.badRequest('invalid digest format');
    const node = this.pinnedNode(req.query.node);
    const upstream = await this.send(node, { method: 'HEAD', path: `/api/blobs/${digest}`, signal: clientAbortSignal(res), headersTimeoutMs: this.core.config.firstByteTimeoutMs, bodyTimeoutMs: this.core.config.idleTimeoutMs });
    await upstream.body.dump().catch(() => undefined);
    res.status(upstream.statusCode).setHeader('X-Herd-Node', node.name);
    res.end();
  }

  /**
   * `POST /api/blobs/:digest[?node=x]`: the body streams through to the pinned node as it arrives, never held
   * whole in memory (the JSON body parser skips this path).
   */
  @Post('blobs/:digest')
  async postBlob(@Param('digest') digest: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    if (!DIGEST.test(digest)) throw HerdError.badRequest('invalid digest format');
    const node = this.pinnedNode(req.query.node);
    const headers: Record<string, string> = { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' };
    if (req.headers['content-length'] !== undefined) headers['content-length'] = req.headers['content-length'];
    const upstream = await this.send(node, {
      method: 'POST',
      path: `/api/blobs/${digest}`,
      body: req,
      headers,
      signal: clientAbortSignal(res),
      // The node answers once the whole body is in; undici restarts this clock while the upload makes progress.
      headersTimeoutMs: this.core.config.requestTimeoutMs,
      bodyTimeoutMs: this.core.config.idleTimeoutMs,
    });
    const text = await upstream.body.text();
    res.status(upstream.statusCode).setHeader('X-Herd-Node', node.name);
    if (text) res.type(upstream.headers['content-type'] === undefined ? 'application/json' : String(upstream.headers['content-type'])).send(text);
    else res.end();
  }

  // ---- helpers -------------------------------------------------------------------------------------------

  /** The client's body for the node, without Herd's own `priority`. */
  private body(req: Request): Record<string, unknown> {
    const { priority: _drop, ...body } = req.body as Record<string, unknown>;
    return body;
  }

  private reachable(): NodeConfig[] {
    return this.core.fleet.upNodes().slice().sort(byName);
  }

  /** Nodes a pull goes to: `?nodes=a,b` (each must exist), else every reachable node. */
  private targetNodes(query: unknown): NodeConfig[] {
    const names = queryList(query);
    if (names.length === 0) {
      const nodes = this.reachable();
      if (nodes.length === 0) throw new HerdError(503, 'HERD_UPSTREAM_UNREACHABLE', 'herd: no node is reachable', 5);
      return nodes;
    }
    const unknown = names.filter((n) => !this.core.fleet.node(n));
    if (unknown.length > 0) throw HerdError.badRequest(`herd: no node named ${unknown.map((n) => `"${n}"`).join(', ')}`);
    return [...new Set(names)].map((n) => this.core.fleet.node(n)!);
  }

  /** Blobs and creates meet on one node: `?node=x`, else the first reachable node by name. */
  private pinnedNode(query: unknown): NodeConfig {
    const [named] = queryList(query);
    if (named) {
      const node = this.core.fleet.node(named);
      if (!node) throw HerdError.badRequest(`herd: no node named "${named}"`);
      return node;
    }
    const first = this.reachable()[0];
    if (!first) throw new HerdError(503, 'HERD_UPSTREAM_UNREACHABLE', 'herd: no node is reachable', 5);
    return first;
  }

  /**
   * The pinned node, except for a create that only derives from an existing model (no blobs): that goes to
   * the first reachable node that has the base model when the pinned one does not.
   */
  private createNode(query: unknown, body: Record<string, unknown>, from: string | undefined): NodeConfig {
    const pinned = this.pinnedNode(query);
    if (queryList(query).length > 0 || from === undefined || DIGEST.test(from)) return pinned;
    const usesBlobs = [body.files, body.adapters].some((m) => m && typeof m === 'object' && Object.keys(m).length > 0);
    if (usesBlobs) return pinned;
    const having = this.nodesHaving(from);
    return having.some((n) => n.name === pinned.name) ? pinned : (having[0] ?? pinned);
  }

  /** Reachable nodes whose last poll listed the model, by name. */
  private nodesHaving(model: string): NodeConfig[] {
    return this.reachable().filter((n) => findModel(this.core.fleet.health(n.name)?.models ?? [], model) !== undefined);
  }

  /**
   * The body for one node, with `field` (which names `model`) spelled as that node lists the model: a node
   * that stores names case-sensitively finds only its own spelling. Unchanged when the node does not list it.
   */
  private spelledFor(node: NodeConfig, body: Record<string, unknown>, field: string, model: string): Record<string, unknown> {
    const spelling = spellingForNode(model, this.core.fleet.modelNameOn(node.name, model));
    return spelling === undefined ? body : { ...body, [field]: spelling };
  }

  /**
   * Delete or copy on every reachable node. Each node is asked (a node without the model answers 404, which
   * only means "not here"), so a model pulled since the last poll is not missed.
   */
  private async everywhere(res: Response, method: 'POST' | 'DELETE', path: string, body: Record<string, unknown>, model: string, field: string): Promise<void> {
    const nodes = this.reachable();
    if (nodes.length === 0) throw new HerdError(503, 'HERD_UPSTREAM_UNREACHABLE', 'herd: no node is reachable', 5);
    const signal = clientAbortSignal(res);
    // Each node gets the model under its own spelling.
    const outcomes = (
      await Promise.all(nodes.map((node) => fanOut(this.core.client, this.plainTimeouts(), [node], { method, path, body: this.spelledFor(node, body, field, model) }, signal)))
    ).flat();
    const done = outcomes.filter((o) => o.ok);
    const failed = outcomes.filter((o) => !o.ok && o.status !== 404);
    if (done.length > 0) await this.poll();
    if (failed.length > 0) throw failureError(failed, true);
    if (done.length === 0) {
      // Every node said 404; a 400 (bad name) from all of them would have been a failure above.
      throw new HerdError(404, 'HERD_MODEL_NOT_FOUND', `model "${model}" not found`);
    }
    res.setHeader('X-Herd-Node', done.map((o) => o.node).join(','));
    res.status(200).end();
  }

  private async send(node: NodeConfig, request: UpstreamRequest): Promise<UpstreamResponse> {
    try {
      return await this.core.client.request(node, request);
    } catch (err) {
      if (request.signal?.aborted) throw new CanceledError();
      const outcome = transportOutcome(err, node.name);
      throw new HerdError(outcome.status, 'HERD_UPSTREAM_ERROR', `node ${node.name}: ${outcome.error ?? errorText('', outcome.status)}`);
    }
  }

  /** Polls every node now so tags and routing see the change at once; a failed poll is not the client's problem. */
  private async poll(): Promise<void> {
    try {
      await this.core.nodeHealth.poll();
    } catch (err) {
      this.core.log.warn('fleet poll after a model change failed', { error: (err as Error).message });
    }
  }

  /** Progress streams: long silences happen (digest checks of big layers), so the whole-request timeout applies. */
  private progressTimeouts(): AdminTimeouts {
    return { headersTimeoutMs: this.core.config.firstByteTimeoutMs, bodyTimeoutMs: this.core.config.requestTimeoutMs };
  }

  private plainTimeouts(): AdminTimeouts {
    return { headersTimeoutMs: this.core.config.requestTimeoutMs, bodyTimeoutMs: this.core.config.idleTimeoutMs };
  }
}
