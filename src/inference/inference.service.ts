import { Inject, Injectable } from '@nestjs/common';
import { AdmissionService } from '../admission/admission.service';
import { askedModel, type InferenceRequest } from '../admission/inference-request';
import { AffinityService } from '../affinity/affinity.service';
import { toClientError } from '../common/client-error';
import { CanceledError, HerdError } from '../common/herd-error';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { BreakerService } from '../fleet/breaker.service';
import { FleetRegistry } from '../fleet/fleet-registry';
import { NodeHealthService } from '../fleet/node-health.service';
import { LearningService } from '../learning/learning.service';
import type { Grant } from '../placement/grant';
import { LeaseKeeper } from '../placement/lease-keeper';
import { PlacementService } from '../placement/placement.service';
import { QueueService } from '../queue/queue.service';
import type { Ticket } from '../queue/ticket';
import type { Attempt } from '../relay/attempt';
import { ModelEcho } from '../relay/model-echo';
import { tokenCounts } from '../relay/token-counts';
import { spellingForNode } from '../scheduler/model-name';
import type { RequestEstimate } from '../scheduler/scheduler.types';
import { OllamaNodeClient, type UpstreamResponse } from '../upstream/ollama-node.client';
import { answerError, isRetryable } from '../upstream/upstream-error';
import { LiveAttempts } from './live-attempts';
import { RequestAborts } from './request-aborts';
import { markRecorded, RequestEvents, type RequestRecord } from './request-events';

/** Reads the node's answer and writes it to the client (see src/relay); resolves once the client has it. */
export type Consume<T> = (res: UpstreamResponse, attempt: Attempt) => Promise<T>;

/**
 * The request path, top to bottom: admit → queue → place → relay → learn.
 *
 * 1. admit: AdmissionService turns the request into a ticket, or refuses it.
 * 2. queue and 3. place: QueueService gets the ticket a slot on a node, at once or through the shared queue.
 * 4. relay: the node is called (src/upstream) and `consume` writes its answer to the client (src/relay). A node
 *    that fails before the client saw a byte is reported to its breaker and the request is placed again on
 *    another node (HERD_MAX_RETRIES), all within HERD_REQUEST_TIMEOUT_MS.
 * 5. learn: LearningService records what the answer taught.
 *
 * The slot is given back as soon as the node's answer is read (LeaseKeeper). Every request ends as exactly one
 * RequestRecord (RequestEvents), whatever happened to it.
 */
@Injectable()
export class InferenceService {
  constructor(
    private readonly admission: AdmissionService,
    private readonly queue: QueueService,
    private readonly placement: PlacementService,
    private readonly leases: LeaseKeeper,
    private readonly attempts: LiveAttempts,
    private readonly fleet: FleetRegistry,
    private readonly nodeHealth: NodeHealthService,
    private readonly breakers: BreakerService,
    private readonly learning: LearningService,
    private readonly affinity: AffinityService,
    private readonly client: OllamaNodeClient,
    private readonly events: RequestEvents,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    private readonly log: Logger,
  ) {}

  /** Requests of this replica running on a node. */
  runningCount(): number {
    return this.leases.count();
  }

  /** Requests of this replica not finished yet: waiting for a grant in the queue, or running. */
  pendingCount(): number {
    return this.leases.count() + this.queue.waitingHere();
  }

  /** Runs a request to completion; `consume` reads the node's response and writes to the client. */
  async execute<T>(req: InferenceRequest, signal: AbortSignal, consume: Consume<T>): Promise<T> {
    const arrived = performance.now();
    const record: RequestRecord = { id: '', route: req.route, model: req.model, priority: req.priority, replica: this.config.replicaId, stream: req.stream, durationMs: 0, outcome: 'ok', status: 200, retries: 0, endedAt: 0 };
    let last: Attempt | undefined;
    let notYet = false;
    try {
      return await this.run(req, signal, consume, record, (a) => (last = a));
    } catch (err) {
      const e = toClientError(err);
      // A batch line that found no room was never a request: its runner tries again; nothing to record.
      notYet = e.code === 'HERD_BATCH_LANE_FULL';
      record.outcome = e.status === 499 ? 'canceled' : record.node ? 'error' : e.status < 500 || e.code === 'HERD_QUEUE_FULL' ? 'rejected' : 'error';
      record.status = e.status;
      record.errorCode = e.code;
      record.errorMessage = e.message;
      markRecorded(err);
      throw err;
    } finally {
      const end = performance.now();
      record.durationMs = end - arrived;
      record.endedAt = Date.now();
      if (last) {
        record.node = last.node?.name;
        record.estimateMs = last.grant.estimateMs;
        record.cachedTokensExpected = last.grant.parts.cachedTokens;
        record.serviceMs = end - last.startedAt;
        record.ttftMs = last.firstByteAt !== undefined ? last.firstByteAt - last.startedAt : undefined;
        const counts = tokenCounts(last.final);
        record.evalCount = counts.output;
        record.cachedTokensReported = counts.cached;
        record.promptTokens = counts.prompt ?? last.estimate.promptTokens;
      }
      if (!notYet) this.events.emit(record);
    }
  }

  private async run<T>(req: InferenceRequest, signal: AbortSignal, consume: Consume<T>, record: RequestRecord, onAttempt: (a: Attempt) => void): Promise<T> {
    const { ticket, caller, chain } = await this.admission.admit(req, (c) => {
      record.tenant = c.tenant;
      record.weight = c.weight;
      record.keyId = c.keyId;
      record.priority = c.priority;
    }); // 1. admit
    record.id = ticket.requestId;
    let grant = await this.queue.acquire(ticket, req.bodyBytes, signal); // 2. queue, 3. place
    const queueMs = Date.now() - ticket.enqueuedAt;
    const estimate: RequestEstimate = { model: ticket.model, promptTokens: ticket.promptTokens, outputTokens: ticket.outputTokens, outputTokensKnown: ticket.outputTokensKnown };
    const tried = new Set<string>();
    const aborts = new RequestAborts(signal, this.config.requestTimeoutMs);
    let served: Attempt | undefined;
    try {
      for (;;) {
        const node = this.fleet.node(grant.node);
        const held = grant;
        const attempt: Attempt = {
          requestId: ticket.requestId,
          node: node!,
          grant,
          estimate,
          queueMs,
          committed: false,
          signal,
          startedAt: performance.now(),
          upstreamDone: () => void this.leases.release(held),
          headers: caller.headers,
        };
        onAttempt(attempt);
        if (node) this.affinity.started(node, req.model, chain);
        record.node = grant.node;
        record.queueMs = queueMs;
        this.leases.hold(grant);
        const controller = aborts.nextAttempt();
        attempt.signal = controller.signal;
        // Herd abandons an attempt whose node is found down before anything reached the client.
        const live = { attempt, controller, nodeGone: false };
        this.attempts.add(ticket.requestId, live);
        try {
          if (!node) throw new HerdError(503, 'HERD_UPSTREAM_UNREACHABLE', `herd: node ${grant.node} left the fleet`);
          // 4. relay: the node's answer, written to the client as it comes.
          const res = await this.client.request(node, {
            method: 'POST',
            path: req.upstreamPath,
            body: this.attemptBody(req, node.name, attempt),
            signal: attempt.signal,
            headersTimeoutMs: req.stream ? this.config.firstByteTimeoutMs : this.config.requestTimeoutMs,
            bodyTimeoutMs: this.config.idleTimeoutMs,
          });
          if (res.statusCode >= 500 || res.statusCode === 404) await this.refuse(node.name, req, res);
          served = attempt;
          const result = await consume(res, attempt);
          this.learning.fromAnswer(attempt, res.statusCode, req.model, req.numPredict); // 5. learn
          if (res.statusCode === 200) this.affinity.served(node, req.model, chain);
          return result;
        } catch (caught) {
          if (signal.aborted) throw new CanceledError();
          if (aborts.timedOut) throw this.timeoutError();
          const err = live.nodeGone ? new HerdError(503, 'HERD_UPSTREAM_UNREACHABLE', `herd: node ${grant.node} went down during the request`) : caught;
          // A batch line is not placed again here: its runner retries it when the batch lane has room.
          if (attempt.committed || !isRetryable(err) || tried.size >= this.config.maxRetries || req.lane === 'batch') throw err;
          tried.add(grant.node);
          if (!this.fleet.nodesWithModel(req.model).some((n) => !tried.has(n.name))) {
            // Nowhere else to go: answer now rather than wait out the queue timeout.
            throw err instanceof HerdError && err.code === 'HERD_MODEL_GONE' ? HerdError.modelNotFound(askedModel(req)) : err;
          }
          record.retries++;
          grant = await this.placeElsewhere(ticket, grant, err as Error, tried, aborts);
        } finally {
          this.attempts.delete(ticket.requestId);
        }
      }
    } finally {
      aborts.end();
      // Fair share: the tenant pays what the node reports serving; the estimate stands for counts the answer does
      // not carry, and a request no node answered costs nothing.
      const counts = served ? tokenCounts(served.final) : { prompt: 0, output: 0 };
      this.queue.settle(ticket, counts.prompt ?? ticket.promptTokens, counts.output ?? ticket.outputTokens);
      await this.leases.release(grant);
    }
  }

  /** A node's 5xx, or its 404 for the model, is a failure the request may move on from: thrown as such. */
  private async refuse(node: string, req: InferenceRequest, res: UpstreamResponse): Promise<void> {
    if (res.statusCode >= 500) throw answerError(node, res.statusCode, await res.body.text().catch(() => ''));
    await this.checkModelMissing(node, req, res);
  }

  /**
   * The attempt on `failed`'s node failed before the client saw anything: its breaker hears of it, its slot goes
   * back, and the request is placed again on a node it has not tried (within the request timeout).
   */
  private async placeElsewhere(ticket: Ticket, failed: Grant, err: Error, tried: ReadonlySet<string>, aborts: RequestAborts): Promise<Grant> {
    const unreachable = err instanceof HerdError && err.code === 'HERD_UPSTREAM_UNREACHABLE';
    void this.breakers.reportFailure(failed.node, err.message, unreachable ? 'unreachable' : 'error').catch(() => undefined);
    this.log.warn('retrying on another node', { id: ticket.requestId, node: failed.node, error: err.message });
    await this.leases.release(failed);
    const signal = aborts.waitForNode();
    try {
      return await this.placement.place(ticket, { signal, deadline: Date.now() + this.config.queueTimeoutMs, exclude: tried });
    } catch (placeErr) {
      throw aborts.timedOut ? this.timeoutError() : placeErr;
    } finally {
      aborts.endWait();
    }
  }

  private timeoutError(): HerdError {
    return new HerdError(504, 'HERD_UPSTREAM_TIMEOUT', `herd: request took longer than ${this.config.requestTimeoutMs} ms (HERD_REQUEST_TIMEOUT_MS)`);
  }

  /**
   * The body for this attempt: the client's, with the model spelled as this node lists it when the client
   * spelled it differently (a node that stores names case-sensitively finds only its own spelling). The node
   * then echoes its spelling, so the attempt gets an echo that gives the answer the client's back.
   */
  private attemptBody(req: InferenceRequest, node: string, attempt: Attempt): string {
    const requested = req.requestedModel ?? req.model;
    const spelling = spellingForNode(requested, this.fleet.modelNameOn(node, req.model));
    attempt.echo = undefined;
    if (spelling === undefined || req.upstreamBody.model === undefined) return JSON.stringify(req.upstreamBody);
    attempt.echo = new ModelEcho(spelling, requested);
    return JSON.stringify({ ...req.upstreamBody, model: spelling });
  }

  /**
   * A node said it lacks a model Herd believed it had. Whether it is gone is decided by the node's /api/tags,
   * read again now (not by this one answer); meanwhile the request moves on to another node.
   */
  private async checkModelMissing(node: string, req: InferenceRequest, res: UpstreamResponse): Promise<void> {
    const text = await res.body.text().catch(() => '');
    const model = askedModel(req);
    void this.nodeHealth
      .recheckModel(node, req.model)
      .then((listed) => {
        if (listed) this.log.warn('node answered "model not found" but still lists the model; it stays', { node, model, answer: text.slice(0, 200) });
      })
      .catch(() => undefined);
    throw new HerdError(502, 'HERD_MODEL_GONE', `herd: node ${node} answered that it does not have model "${model}" (${text.slice(0, 200)})`);
  }
}
