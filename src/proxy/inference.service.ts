import { randomUUID } from 'node:crypto';
import type { HerdConfig, NodeConfig } from '../config/herd-config';
import { CanceledError, HerdError } from '../common/herd-error';
import type { Logger } from '../common/logger';
import type { BreakerService } from '../fleet/breaker.service';
import type { FleetRegistry } from '../fleet/fleet-registry';
import type { NodeHealthService } from '../fleet/node-health.service';
import type { LearningService } from '../learning/learning.service';
import type { LedgerRepository } from '../fleet/ledger.repository';
import { isRedisTimeout } from '../redis/redis-watchdog';
import type { RequestEstimate } from '../scheduler/scheduler.types';
import type { FinalChunkTimings } from '../scheduler';
import type { Dispatcher } from '../queue/dispatcher';
import type { Handoff } from '../queue/handoff';
import type { JobQueueRepository } from '../queue/job-queue.repository';
import type { Grant, Ticket } from '../queue/ticket';
import type { OllamaNodeClient, UpstreamResponse } from '../upstream/ollama-node.client';
import { isRetryable } from '../upstream/upstream-error';
import { toClientError } from '../common/client-error';
import { markRecorded, RequestEvents, type RequestRecord } from './request-events';
import { completeModelName, spellingForNode } from '../scheduler/model-name';
import { ModelEcho } from './model-echo';

export interface InferenceRequest {
  /** Route the client called, for metrics and logs. */
  route: string;
  /** The model's normalised name (normalizeModelName): what Herd routes, queues and learns by. */
  model: string;
  /** The model as the client spelled it: Herd's messages name it and answers echo it. Default: `model`. */
  requestedModel?: string;
  priority: number;
  /** Text used for the prompt-size estimate (prompt, or all messages). */
  promptText: string;
  numPredict?: number;
  upstreamPath: string;
  upstreamBody: Record<string, unknown>;
  /** Size of the client's body: what this request holds in memory while it waits in the queue. */
  bodyBytes: number;
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
  /** Set when the node was sent its own spelling of the model: puts the client's back into the answer. */
  echo?: ModelEcho;
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
  /** Bytes of the bodies of this replica's requests waiting for a grant (bounded by HERD_MAX_QUEUED_BYTES). */
  private queuedBytes = 0;
  /** Jobs waiting in the shared queue, as of the last refresh. */
  private globalWaiting = 0;
  private renewTimer: NodeJS.Timeout;
  private depthTimer: NodeJS.Timeout;
  private draining = false;
  readonly events = new RequestEvents();
  /** Set by the core: wakes this replica's queue pump. */
  onEnqueued: () => void = () => undefined;
  /** Set by the core: true while Redis is known not to answer (new requests then fail at once). */
  redisDown: () => boolean = () => false;
  /** Set by the core: runs a clean-up once Redis answers again (see RedisWatchdog.afterRecovery). */
  afterRedisRecovers: (task: () => Promise<unknown>) => void = () => undefined;
  /** Requests of this replica between admission and grant: how to answer each one with an error instead. */
  private readonly waiting = new Map<string, (err: Error) => void>();
  private depthInFlight = false;
  private renewInFlight = false;

  constructor(
    private readonly config: HerdConfig,
    private readonly fleet: FleetRegistry,
    private readonly nodeHealth: NodeHealthService,
    private readonly breakers: BreakerService,
    private readonly queue: JobQueueRepository,
    private readonly handoff: Handoff,
    private readonly dispatcher: Dispatcher,
    private readonly ledger: LedgerRepository,
    private readonly learning: LearningService,
    private readonly client: OllamaNodeClient,
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

  /**
   * Redis stopped answering: every request of this replica still getting a slot (fast path, enqueue, waiting
   * for its grant) is answered with `err` now; a grant could only come through Redis. Their jobs are withdrawn
   * once Redis answers again; a grant that still arrives for one of them finds nobody waiting and gives its slot
   * back (orphan).
   */
  failWaiting(err: Error): void {
    for (const reject of [...this.waiting.values()]) reject(err);
  }

  /** Requests of this replica not finished yet: waiting for a grant or running. */
  pendingCount(): number {
    return this.running.size + this.localQueued;
  }

  /** Runs a request to completion through the queue; `consume` reads the node's response and writes to the client. */
  async execute<T>(req: InferenceRequest, signal: AbortSignal, consume: (res: UpstreamResponse, attempt: Attempt) => Promise<T>): Promise<T> {
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

  private async run<T>(req: InferenceRequest, signal: AbortSignal, consume: (res: UpstreamResponse, attempt: Attempt) => Promise<T>, record: RequestRecord, onAttempt: (a: Attempt) => void): Promise<T> {
    const ticket = this.admit(req);
    record.id = ticket.requestId;
    this.queuedBytes += req.bodyBytes;
    let grant: Grant;
    try {
      grant = await this.acquire(ticket, signal);
    } finally {
      this.queuedBytes -= req.bodyBytes;
    }
    const queueMs = Date.now() - ticket.enqueuedAt;
    const estimate: RequestEstimate = { model: ticket.model, promptTokens: ticket.promptTokens, outputTokens: ticket.outputTokens, outputTokensKnown: ticket.outputTokensKnown };
    const tried = new Set<string>();
    // One controller per attempt, aborted by the client, the request timeout or Herd (node found down). Plain
    // listeners instead of AbortSignal.timeout/any: those cost more per request than the rest of the bookkeeping.
    let current: AbortController | undefined;
    // Set while a failed attempt waits for another node: the request timeout covers that wait too.
    let replacing: AbortController | undefined;
    let timedOut = false;
    const timeoutError = (): HerdError => new HerdError(504, 'HERD_UPSTREAM_TIMEOUT', `herd: request took longer than ${this.config.requestTimeoutMs} ms (HERD_REQUEST_TIMEOUT_MS)`);
    const timer = setTimeout(() => {
      timedOut = true;
      current?.abort();
      replacing?.abort();
    }, this.config.requestTimeoutMs);
    const onClientAbort = (): void => {
      current?.abort();
      replacing?.abort();
    };
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
            body: this.attemptBody(req, node.name, attempt),
            signal: attempt.signal,
            headersTimeoutMs: req.stream ? this.config.firstByteTimeoutMs : this.config.requestTimeoutMs,
            bodyTimeoutMs: this.config.idleTimeoutMs,
          });
          if (res.statusCode >= 500) throw await this.upstreamFailure(node.name, res);
          if (res.statusCode === 404) await this.checkModelMissing(node.name, req, res);
          const result = await consume(res, attempt);
          void this.breakers.reportSuccess(node.name).catch(() => undefined);
          if (res.statusCode === 200) void this.nodeHealth.markResident(node.name, req.model).catch(() => undefined);
          if (attempt.final) void this.learn(node.name, grant.streams, estimate, attempt.final, req.numPredict);
          return result;
        } catch (caught) {
          if (signal.aborted) throw new CanceledError();
          if (timedOut) throw timeoutError();
          const err = nodeGone ? new HerdError(503, 'HERD_UPSTREAM_UNREACHABLE', `herd: node ${grant.node} went down during the request`) : caught;
          if (attempt.committed || !isRetryable(err) || tried.size >= this.config.maxRetries) throw err;
          tried.add(grant.node);
          if (!this.fleet.nodesWithModel(req.model).some((n) => !tried.has(n.name))) {
            // Nowhere else to go: answer now rather than wait out the queue timeout.
            throw err instanceof HerdError && err.code === 'HERD_MODEL_GONE' ? HerdError.modelNotFound(askedModel(req)) : err;
          }
          record.retries++;
          const unreachable = err instanceof HerdError && err.code === 'HERD_UPSTREAM_UNREACHABLE';
          void this.breakers.reportFailure(grant.node, (err as Error).message, unreachable ? 'unreachable' : 'error').catch(() => undefined);
          this.log.warn('retrying on another node', { id: ticket.requestId, node: grant.node, error: (err as Error).message });
          await this.releaseGrant(grant);
          replacing = new AbortController();
          if (signal.aborted || timedOut) replacing.abort();
          try {
            grant = await this.dispatcher.place(ticket, { signal: replacing.signal, deadline: Date.now() + this.config.queueTimeoutMs, exclude: tried });
          } catch (placeErr) {
            throw timedOut ? timeoutError() : placeErr;
          } finally {
            replacing = undefined;
          }
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
    if (presence === 'absent') throw HerdError.modelNotFound(askedModel(req));
    if (presence === 'known') throw new HerdError(503, 'HERD_NO_NODE_FOR_MODEL', `herd: every node that has model "${askedModel(req)}" is down`, 5);
    if (Math.max(this.localQueued, this.globalWaiting) >= this.config.maxQueue) throw HerdError.queueFull();
    if (this.queuedBytes + req.bodyBytes > this.config.maxQueuedBytes) throw HerdError.queueFull('the request bodies waiting here exceed HERD_MAX_QUEUED_BYTES');
    const estimate = this.learning.estimate(req.model, req.promptText, req.numPredict);
    return { ...estimate, requestId: randomUUID(), model: req.model, priority: req.priority, origin: this.config.replicaId, enqueuedAt: Date.now() };
  }

  /**
   * Enqueues the ticket and waits for a grant; cleans up on cancel and queue timeout.
   *
   * A Redis that stops answering never holds a request here for long: each command gives up after the command
   * timeout, and from the first command to the grant the watchdog answers the request 503 as soon as it notices
   * (failWaiting). That matters twice: a request waiting for its grant sends no command at all, and a command
   * queued behind an unanswered auto-pipeline is only sent once that one timed out (up to twice the timeout).
   */
  private async acquire(ticket: Ticket, signal: AbortSignal): Promise<Grant> {
    const id = ticket.requestId;
    // Known not to answer: say so now rather than after one more command timeout.
    if (this.redisDown()) throw HerdError.redisDown();
    let failNow: (err: Error) => void = () => undefined;
    const down = new Promise<never>((_, reject) => (failNow = reject));
    down.catch(() => undefined); // only ever raced; never left unhandled
    this.waiting.set(id, failNow);
    try {
      const fast = this.dispatcher.tryNow(ticket);
      let now: Grant | undefined;
      try {
        now = await Promise.race([fast, down]);
      } catch {
        // Given up while the reservation may still be made: a slot it gets after all goes straight back.
        void fast.then((g) => g && this.ledger.release(g.node, g.requestId)).catch(() => undefined);
        throw HerdError.redisDown();
      }
      if (now) return now;
      const granted = this.handoff.expectGrant(id);
      this.localQueued++;
      this.globalWaiting++;
      try {
        await Promise.race([this.queue.enqueue(ticket), down]);
        this.onEnqueued();
      } catch (err) {
        this.localQueued--;
        this.globalWaiting--;
        this.handoff.forget(id);
        // Sent but not answered: the job may still be added once Redis answers; take it out again then.
        if (err instanceof HerdError || isRedisTimeout(err)) this.afterRedisRecovers(() => this.withdraw(id));
        throw HerdError.redisDown();
      }
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      try {
        return await Promise.race([
          granted,
          down,
          new Promise<never>((_, reject) => {
            // The worker gives up at the deadline itself; this is the backstop when the job never became active.
            timer = setTimeout(() => reject(new HerdError(503, 'HERD_QUEUE_TIMEOUT', 'herd: timed out waiting in the queue', 5)), this.config.queueTimeoutMs + 1000);
            onAbort = () => reject(new CanceledError());
            signal.addEventListener('abort', onAbort, { once: true });
          }),
        ]);
      } catch (err) {
        this.handoff.forget(id);
        // With Redis not answering, the client hears now and the job is withdrawn once Redis answers again.
        if (err instanceof HerdError && err.code === 'HERD_REDIS_UNAVAILABLE') this.afterRedisRecovers(() => this.withdraw(id));
        else await this.withdraw(id);
        throw err;
      } finally {
        this.localQueued--;
        clearTimeout(timer);
        if (onAbort) signal.removeEventListener('abort', onAbort);
      }
    } finally {
      this.waiting.delete(id);
    }
  }

  /**
   * Takes a request out of the queue, or tells whoever is placing it to stop. When Redis does not answer, it is
   * tried again once Redis answers (a few times at most); until then a grant for it is an orphan and released.
   */
  private async withdraw(requestId: string, triesLeft = 3): Promise<void> {
    const later = (): void => {
      if (triesLeft > 1) this.afterRedisRecovers(() => this.withdraw(requestId, triesLeft - 1));
    };
    if (this.redisDown()) return later();
    try {
      if (await this.queue.remove(requestId)) return;
      await this.handoff.cancel(requestId, this.config.queueTimeoutMs + 5000);
    } catch (err) {
      this.log.warn('could not withdraw a request from the queue; trying again once Redis answers', { id: requestId, error: (err as Error).message });
      later();
    }
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

  /** Attempts not yet committed to the client on nodes that went down are abandoned and retried elsewhere. */
  private abandonAttemptsOnDownNodes(): void {
    for (const { attempt, abort } of this.attempts.values()) {
      if (!attempt.committed && !this.fleet.isUp(attempt.node.name)) abort();
    }
  }

  private async upstreamFailure(node: string, res: UpstreamResponse): Promise<HerdError> {
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
    // One renewal at a time: while Redis does not answer, each one waits out the command timeout.
    if (this.renewInFlight) return;
    this.renewInFlight = true;
    try {
      await this.ledger.renew([...this.running.values()].map((g) => ({ node: g.node, requestId: g.requestId })), this.config.leaseMs);
    } catch {
      // Redis away: leases run out on their own; requests keep streaming
    } finally {
      this.renewInFlight = false;
    }
  }

  private async refreshDepth(): Promise<void> {
    if (this.depthInFlight) return;
    this.depthInFlight = true;
    try {
      // The queue bound is checked against a count at most 250 ms old plus this replica's own additions since.
      this.globalWaiting = await this.queue.waitingCount();
    } catch {
      // keep the last figure
    } finally {
      this.depthInFlight = false;
    }
  }
}

/** The model as Herd names it to the client: the client's spelling, with its tag. */
function askedModel(req: InferenceRequest): string {
  return completeModelName(req.requestedModel ?? req.model);
}
