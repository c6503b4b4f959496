import { Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { inferenceRequestFrom } from '../../admission/inference-request';
import { toClientError } from '../../common/client-error';
import { InferenceService } from '../../inference/inference.service';
import { ModelInfoService } from '../../models/model-info.service';
import { clientAbortSignal } from '../../relay/client-signal';
import { InferenceRoute } from '../inference-route';
import { clusterChatSpec } from './cluster-chat';
import { endWithErrorEvent, relayNdjsonAsSse } from './sse-relay';

/** Cluster LLM's routes (docs/coming-from.md): its model list and chat, whole or as Server-Sent Events. */
@Controller()
export class ClusterLlmController {
  constructor(
    private readonly route: InferenceRoute,
    private readonly inference: InferenceService,
    private readonly info: ModelInfoService,
  ) {}

  /** The models of the nodes that are up (as /api/tags), by name, sorted. */
  @Get('models')
  models(): string[] {
    return [...new Set(this.info.tags().map((m) => m.name))].sort();
  }

  /** Ollama's /api/chat answer, whole. */
  @Post('chat')
  @HttpCode(200)
  async chat(@Req() req: Request, @Res() res: Response): Promise<void> {
    await this.route.serve(req, res, clusterChatSpec(req.body, false));
  }

  /** Ollama's /api/chat chunks as Server-Sent Events (see relayNdjsonAsSse). */
  @Post('chat/stream')
  @HttpCode(200)
  async chatStream(@Req() req: Request, @Res() res: Response): Promise<void> {
    const request = inferenceRequestFrom(req, clusterChatSpec(req.body, true));
    try {
      await this.inference.execute(request, clientAbortSignal(res), (upstream, attempt) => relayNdjsonAsSse(upstream, res, attempt));
    } catch (err) {
      // Before the first event the error filter answers with a status and {"error"}; after it, only an event can.
      if (!res.headersSent) throw err;
      endWithErrorEvent(res, toClientError(err).message);
    }
  }
}
