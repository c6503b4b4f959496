import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { inferenceRequestFrom } from '../admission/inference-request';
import type { RouteSpec } from '../admission/route-specs';
import { InferenceService } from '../inference/inference.service';
import { relayStream, relayWhole } from '../relay/answer-relay';
import { clientAbortSignal } from '../relay/client-signal';

/** The inference routes' one way in: the HTTP request to the pipeline (InferenceService), the node's answer to the client. */
@Injectable()
export class InferenceRoute {
  constructor(private readonly inference: InferenceService) {}

  async serve(req: Request, res: Response, spec: RouteSpec): Promise<void> {
    await this.inference.execute(inferenceRequestFrom(req, spec), clientAbortSignal(res), (upstream, attempt) =>
      spec.stream ? relayStream(upstream, res, attempt, spec.format) : relayWhole(upstream, res, attempt),
    );
  }
}
