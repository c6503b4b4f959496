import { randomUUID } from 'node:crypto';
import type { RedisLike } from '../redis/redis-connections';
import type { Dispatcher as Undici } from 'undici';
import type { HerdConfig, NodeConfig } from '../config/herd-config';
import { HerdError } from '../common/herd-error';
import type { Logger } from '../common/logger';
import type { FleetService } from '../fleet/fleet.service';
import type { LearningService } from '../fleet/learning.service';
import type { LedgerRepository } from '../fleet/ledger.repository';
import type { RedisKeys } from '../redis/redis-keys';
import type { RequestEstimate } from '../scheduler/scheduler.types';
import type { FinalChunkTimings } from '../scheduler';
import { CanceledError, type Dispatcher } from '../queue/dispatcher';
import type { Handoff } from '../queue/handoff';
import type { JobQueueRepository } from '../queue/job-queue.repository';
import type { Grant, Ticket } from '../queue/ticket';
import type { OllamaNodeClient } from '../upstream/ollama-node.client';
import { isRetryable } from '../upstream/upstream-error';
import { toClientError } from '../api/errors/herd-exception.filter';
import { markRecorded, RequestEvents, type RequestRecord } from './request-events';

export interface InferenceRequest {
  /** Route the client called, for metrics and logs. */
  route: string;
  model: string;
  priority: number;
  /** Text used for the prompt-size estimate (prompt, or all messages). */
  promptText: string;
  numPredict?: number;
  upstreamPath: string;
  upstreamBody: Record<string, unknown>;
  /** Streams wait for the first chunk only this long; whole answers may take the full request timeout. */
  stream: boolean;
}

/** One try of a request on one node, handed to the caller that writes the response. */
export interface Attempt {
  requestId: string;
  node: NodeConfig;
  grant: Grant;
  estimate: RequestEstimate;
  queueMs: number;
  /** Set by the caller once any byte went to the client: from then on failures are not retried elsewhere. */
  committed: boolean;
  /** Set by the caller from the last chunk, for learning. */
  final?: FinalChunkTimings;
  /** performance.now() when this attempt began. */
  startedAt: number;
  /**
   * Called by the caller once the node's answer is fully read: the node's slot is free from that moment, so
   * it is given back before the client sees the end (a client that sends its next request at once finds it).
   */
  upstreamDone: () => void;
  /** Set by the caller when the first byte went to the client (performance.now()). */
  firstByteAt?: number;
  signal: AbortSignal;
}

/**
 * The origin side of a request: admission, queueing, waiting for a grant, calling the node, failing over
 * to the next node when a failure happens before the client saw anything, and giving the slot back.
 */
export class InferenceService {
  private readonly running = new Map<string, Grant>();
  private readonly attempts = new Map<string, { attempt: Attempt; abort: () => void }>();
  /** Grants already given back (released early when the node's answer ended, or on the way out). */
  private readonly released = new WeakSet<Grant>();
  /** Requests of this replica waiting for a grant. */
  private localQueued = 0;
  /** Jobs waiting in the shared queue, as of the last refresh. */
  private globalWaiting = 0;
  private renewTimer: NodeJS.Timeout;
  private depthTimer: NodeJS.Timeout;
  private draining = false;
  readonly events = new RequestEvents();
  /** Set by the core: wakes this replica's queue pump. */
  onEnqueued: () => void = () => undefined;

  constructor(
    private readonly config: HerdConfig,
    private readonly fleet: FleetService,
    private readonly queue: JobQueueRepository,
    private readonly handoff: Handoff,
    private readonly dispatcher: Dispatcher,
    private readonly ledger: LedgerRepository,
    private readonly learning: LearningService,
    private readonly client: OllamaNodeClient,
    private readonly redis: RedisLike,
    private readonly keys: RedisKeys,
    private readonly log: Logger,
  ) {
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.max(250, Math.floor(config.leaseMs / 3)));
    this.renewTimer.unref();
    this.depthTimer = setInterval(() => void this.refreshDepth(), 250);
    this.depthTimer.unref();
    handoff.orphanHandler = (grant) => void this.dropOrphan(grant);
    fleet.onChange(() => this.abandonAttemptsOnDownNodes());
  }

  stop(): void {
    clearInterval(this.renewTimer);
    clearInterval(this.depthTimer);
  }

  /** No new requests are admitted (graceful shutdown). */
  drain(): void {
    this.draining = true;
  }

  runningCount(): number {
    return this.running.size;
  }

  /** Whether a request may wait in the shared queue (this replica's own, or any as of the last count). */
  queueMayHaveWork(): boolean {
    return this.localQueued > 0 || this.globalWaiting > 0;
  }

  /** Requests of this replica not finished yet: waiting for a grant or running. */
  pendingCount(): number {
    return this.running.size + this.localQueued;
  }

  /** Runs a request to completion through the queue; `consume` reads the node's response and writes to the client. */
  async execute<T>(req: InferenceRequest, signal: AbortSignal, consume: (res: Undici.ResponseData, attempt: Attempt) => Promise<T>): Promise<T> {
    const arrived = performance.now();
    const record: RequestRecord = { id: '', route: req.route, model: req.model, priority: req.priority, replica: this.config.replicaId, stream: req.stream, durationMs: 0, outcome: 'ok', status: 200, retries: 0, endedAt: 0 };
    let last: Attempt | undefined;
    try {
      return await this.run(req, signal, consume, record, (a) => (last = a));
    } catch (err) {
      const e = toClientError(err);
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
        record.serviceMs = end - last.startedAt;
        record.ttftMs = last.firstByteAt !== undefined ? last.firstByteAt - last.startedAt : undefined;
        record.evalCount = typeof last.final?.eval_count === 'number' ? last.final.eval_count : undefined;
        record.promptTokens = typeof last.final?.prompt_eval_count === 'number' ? last.final.prompt_eval_count : last.estimate.promptTokens;
      }
      this.events.emit(record);
    }
  }

  private async run<T>(req: InferenceRequest, signal: AbortSignal, consume: (res: Undici.ResponseData, attempt: Attempt) => Promise<T>, record: RequestRecord, onAttempt: (a: Attempt) => void): Promise<T> {
    const ticket = this.admit(req);
    record.id = ticket.requestId;
    let grant = await this.acquire(ticket, signal);
    const queueMs = Date.now() - ticket.enqueuedAt;
    const estimate: RequestEstimate = { model: ticket.model, promptTokens: ticket.promptTokens, outputTokens: ticket.outputTokens, outputTokensKnown: ticket.outputTokensKnown };
    const tried = new Set<string>();
    // One controller per attempt, aborted by the client, the request timeout or Herd (node found down). Plain
    // listeners instead of AbortSignal.timeout/any: those cost more per request than the rest of the bookkeeping.
    let current: AbortController | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      current?.abort();
    }, this.config.requestTimeoutMs);
    const onClientAbort = (): void => current?.abort();
    signal.addEventListener('abort', onClientAbort, { once: true });
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
          upstreamDone: () => void this.releaseGrant(held),
        };
        onAttempt(attempt);
        record.node = grant.node;
        record.queueMs = queueMs;
        this.running.set(ticket.requestId, grant);
        const controller = new AbortController();
        current = controller;
        if (signal.aborted || timedOut) controller.abort();
        attempt.signal = controller.signal;
        // Herd abandons an attempt whose node is found down before anything reached the client.
        let nodeGone = false;
        this.attempts.set(ticket.requestId, {
          attempt,
          abort: () => {
            nodeGone = true;
            controller.abort();
          },
        });
        try {
          if (!node) throw new HerdError(503, 'HERD_UPSTREAM_UNREACHABLE', `herd: node ${grant.node} left the fleet`);
          const res = await this.client.request(node, {
            method: 'POST',
            path: req.upstreamPath,
            body: JSON.stringify(req.upstreamBody),
            signal: attempt.signal,
            headersTimeoutMs: req.stream ? this.config.firstByteTimeoutMs : this.config.requestTimeoutMs,
            bodyTimeoutMs: this.config.idleTimeoutMs,
          });
          if (res.statusCode >= 500) throw await this.upstreamFailure(node.name, res);
          if (res.statusCode === 404) await this.checkModelMissing(node.name, req.model, res);
          const result = await consume(res, attempt);
          void this.fleet.reportSuccess(node.name).catch(() => undefined);
          if (res.statusCode === 200) void this.fleet.markResident(node.name, req.model).catch(() => undefined);
          if (attempt.final) void this.learn(node.name, grant.streams, estimate, attempt.final, req.numPredict);
          return result;
        } catch (caught) {
          if (signal.aborted) throw new CanceledError();
          if (timedOut) throw new HerdError(504, 'HERD_UPSTREAM_TIMEOUT', `herd: request took longer than ${this.config.requestTimeoutMs} ms (HERD_REQUEST_TIMEOUT_MS)`);
          const err = nodeGone ? new HerdError(503, 'HERD_UPSTREAM_UNREACHABLE', `herd: node ${grant.node} went down during the request`) : caught;
          if (attempt.committed || !isRetryable(err) || tried.size >= this.config.maxRetries) throw err;
          tried.add(grant.node);
          if (!this.fleet.nodesWithModel(req.model).some((n) => !tried.has(n.name))) {
            // Nowhere else to go: answer now rather than wait out the queue timeout.
            throw err instanceof HerdError && err.code === 'HERD_MODEL_GONE' ? HerdError.modelNotFound(req.model) : err;
          }
          record.retries++;
          const unreachable = err instanceof HerdError && err.code === 'HERD_UPSTREAM_UNREACHABLE';
          void this.fleet.reportFailure(grant.node, (err as Error).message, unreachable ? 'unreachable' : 'error').catch(() => undefined);
          this.log.warn('retrying on another node', { id: ticket.requestId, node: grant.node, error: (err as Error).message });
          await this.releaseGrant(grant);
          grant = await this.dispatcher.place(ticket, { signal, deadline: Date.now() + this.config.queueTimeoutMs, exclude: tried });
        } finally {
          this.attempts.delete(ticket.requestId);
        }
      }
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onClientAbort);
      await this.releaseGrant(grant);
    }
  }

  private admit(req: InferenceRequest): Ticket {
    if (this.draining) throw new HerdError(503, 'HERD_SHUTTING_DOWN', 'herd: this replica is shutting down, please retry', 1);
    const presence = this.fleet.modelPresence(req.model);
    // With every node down Herd cannot tell a missing model from an unreachable one: say what it knows.
    if (presence === 'absent' && this.fleet.upCount() === 0) throw new HerdError(503, 'HERD_NO_NODE_FOR_MODEL', 'herd: no node is up', 5);
    if (presence === 'absent') throw HerdError.modelNotFound(req.model);
    if (presence === 'known') throw new HerdError(503, 'HERD_NO_NODE_FOR_MODEL', `herd: every node that has model "${req.model}" is down`, 5);
    if (Math.max(this.localQueued, this.globalWaiting) >= this.config.maxQueue) throw HerdError.queueFull();
    const estimate = this.learning.estimate(req.model, req.promptText, req.numPredict);
    return { ...estimate, requestId: randomUUID(), model: req.model, priority: req.priority, origin: this.config.replicaId, enqueuedAt: Date.now() };
  }

  /** Enqueues the ticket and waits for a grant; cleans up on cancel and queue timeout. */
  private async acquire(ticket: Ticket, signal: AbortSignal): Promise<Grant> {
    try {
      const now = await this.dispatcher.tryNow(ticket);
      if (now) return now;
    } catch {
      throw HerdError.redisDown();
    }
    const granted = this.handoff.expectGrant(ticket.requestId);
    try {
      this.localQueued++;
      this.globalWaiting++;
      await this.queue.enqueue(ticket);
      this.onEnqueued();
    } catch {
      this.localQueued--;
      this.handoff.forget(ticket.requestId);
      throw HerdError.redisDown();
    }
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      return await Promise.race([
        granted,
        new Promise<never>((_, reject) => {
          // The worker gives up at the deadline itself; this is the backstop when the job never became active.
          timer = setTimeout(() => reject(new HerdError(503, 'HERD_QUEUE_TIMEOUT', 'herd: timed out waiting in the queue', 5)), this.config.queueTimeoutMs + 1000);
          onAbort = () => reject(new CanceledError());
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } catch (err) {
      this.handoff.forget(ticket.requestId);
      await this.withdraw(ticket.requestId);
      throw err;
    } finally {
      this.localQueued--;
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /** Takes a request out of the queue, or tells whoever is placing it to stop. */
  private async withdraw(requestId: string): Promise<void> {
    try {
      if (await this.queue.remove(requestId)) return;
      await this.redis.set(this.keys.canceled(requestId), '1', 'PX', this.config.queueTimeoutMs + 5000);
      await this.handoff.broadcastCancel(requestId);
    } catch (err) {
      this.log.warn('could not withdraw a cancelled request; its lease will expire', { id: requestId, error: (err as Error).message });
    }
  }

  /**
   * A node that says it lacks a model Herd believed it had: its model list is stale. Refresh it and let the
   * request move on (the 404 is the node's problem, not the client's).
   */
  private async checkModelMissing(node: string, model: string, res: Undici.ResponseData): Promise<void> {
    const text = await res.body.text().catch(() => '');
    void this.fleet.forgetModel(node, model).catch(() => undefined);
    throw new HerdError(502, 'HERD_MODEL_GONE', `herd: node ${node} no longer has model "${model}" (${text.slice(0, 200)})`);
  }

  /** Attempts not yet committed to the client on nodes that went down are abandoned and retried elsewhere. */
  private abandonAttemptsOnDownNodes(): void {
    for (const { attempt, abort } of this.attempts.values()) {
      if (!attempt.committed && !this.fleet.isUp(attempt.node.name)) abort();
    }
  }

  private async upstreamFailure(node: string, res: Undici.ResponseData): Promise<HerdError> {
    const text = await res.body.text().catch(() => '');
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? message;
    } catch {
      // not JSON: keep the raw text
    }
    return new HerdError(res.statusCode === 503 ? 503 : 502, 'HERD_UPSTREAM_ERROR', res.statusCode === 503 ? message : `herd: node ${node} answered ${res.statusCode}: ${message}`);
  }

  private async releaseGrant(grant: Grant): Promise<void> {
    if (this.released.has(grant)) return;
    this.released.add(grant);
    if (this.running.get(grant.requestId) === grant) this.running.delete(grant.requestId);
    try {
      if (await this.ledger.release(grant.node, grant.requestId)) this.dispatcher.wakeAll();
    } catch (err) {
      this.log.warn('could not release a slot; its lease will expire', { node: grant.node, error: (err as Error).message });
    }
  }

  /** A grant for a request this replica no longer waits for (cancelled, timed out): give the slot back. */
  private async dropOrphan(grant: Grant): Promise<void> {
    if (this.running.get(grant.requestId)?.node !== grant.node) await this.ledger.release(grant.node, grant.requestId).catch(() => undefined);
  }

  private async learn(node: string, streams: number, estimate: RequestEstimate, final: FinalChunkTimings, numPredict: number | undefined): Promise<void> {
    try {
      await this.learning.learn(node, estimate, final, streams, numPredict);
    } catch (err) {
      this.log.debug('learning skipped', { error: (err as Error).message });
    }
  }

  private async renewLeases(): Promise<void> {
    try {
      await this.ledger.renew([...this.running.values()].map((g) => ({ node: g.node, requestId: g.requestId })), this.config.leaseMs);
    } catch {
      // Redis away: leases run out on their own; requests keep streaming
    }
  }

  private async refreshDepth(): Promise<void> {
    try {
      // The queue bound is checked against a count at most 250 ms old plus this replica's own additions since.
      this.globalWaiting = await this.queue.waitingCount();
    } catch {
      // keep the last figure
    }
  }
}
