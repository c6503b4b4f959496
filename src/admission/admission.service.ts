import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AffinityService, MIN_AFFINITY_TOKENS } from '../affinity/affinity.service';
import { HerdError } from '../common/herd-error';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { FleetRegistry } from '../fleet/fleet-registry';
import { LearningService } from '../learning/learning.service';
import { QueueDepth } from '../queue/queue-depth';
import { BATCH_PRIORITY, type Ticket } from '../queue/ticket';
import { prefixChain, type PrefixLink } from '../scheduler/prefix-chain';
import type { Caller } from '../tenants/caller';
import { TenantAccessService } from '../tenants/tenant-access.service';
import { askedModel, type InferenceRequest } from './inference-request';

/**
 * The first step of every inference request: may this replica take it now? Refuses it (with the status Ollama
 * would use) when the replica is shutting down, no node has the model or every node that has it is down, or the
 * queue is full (in jobs, or in bodies held here); otherwise turns it into a ticket with its token estimate.
 */
@Injectable()
export class AdmissionService {
  private closed = false;

  constructor(
    private readonly fleet: FleetRegistry,
    private readonly depth: QueueDepth,
    private readonly learning: LearningService,
    private readonly access: TenantAccessService,
    private readonly affinity: AffinityService,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
  ) {}

  /** No new requests from now on (graceful stop); requests already admitted finish. */
  drain(): void {
    this.closed = true;
  }

  /** True once a graceful stop began: readiness answers 503. */
  get draining(): boolean {
    return this.closed;
  }

  /**
   * Who is calling and may it (TenantAccessService), then may this replica take it now; its ticket, with the
   * prompt tokens each node probably still holds in its cache (AffinityService), and the prompt's prefix chain.
   */
  async admit(req: InferenceRequest, onCaller: (caller: Caller) => void = () => undefined): Promise<{ ticket: Ticket; caller: Caller; chain: PrefixLink[] }> {
    const caller = req.caller ?? (await this.access.identify({ credential: req.credential, tenantHeader: req.tenantHeader, model: req.model, priority: req.priority }));
    // Known from here: a refusal below (no such model, queue full) is still the caller's.
    onCaller(caller);
    const ticket = this.ticketFor(req, caller);
    const chain = this.chainOf(req, ticket.promptTokens);
    if (chain.length > 0) {
      // Affinity is an optimisation: without an answer from Redis the request is placed as if nothing were cached.
      ticket.cachedTokens = await this.affinity.expectCached(req.model, chain, this.fleet.nodesWithModel(req.model)).catch(() => undefined);
    }
    return { ticket, caller, chain };
  }

  /** The prompt's prefix chain, when conversation affinity may help it (long enough, ECT, affinity on). */
  private chainOf(req: InferenceRequest, promptTokens: number): PrefixLink[] {
    if (!req.prefixParts || promptTokens < MIN_AFFINITY_TOKENS) return [];
    const chain = prefixChain(req.model, req.prefixParts(), (text) => this.learning.promptTokens(req.model, text));
    return this.affinity.applies(chain) ? chain : [];
  }

  private ticketFor(req: InferenceRequest, caller: Caller): Ticket {
    if (this.closed) throw new HerdError(503, 'HERD_SHUTTING_DOWN', 'herd: this replica is shutting down, please retry', 1);
    const presence = this.fleet.modelPresence(req.model);
    // With every node down Herd cannot tell a missing model from an unreachable one: say what it knows.
    if (presence === 'absent' && this.fleet.upCount() === 0) throw new HerdError(503, 'HERD_NO_NODE_FOR_MODEL', 'herd: no node is up', 5);
    if (presence === 'absent') throw HerdError.modelNotFound(askedModel(req));
    if (presence === 'known') throw new HerdError(503, 'HERD_NO_NODE_FOR_MODEL', `herd: every node that has model "${askedModel(req)}" is down`, 5);
    if (Math.max(this.depth.waitingHere, this.depth.waiting) >= this.config.maxQueue) throw HerdError.queueFull();
    if (this.depth.bytesWaitingHere + req.bodyBytes > this.config.maxQueuedBytes) throw HerdError.queueFull('the request bodies waiting here exceed HERD_MAX_QUEUED_BYTES');
    const estimate = this.learning.estimate(req.model, req.promptText, req.numPredict);
    const lane = req.lane === 'batch' ? { lane: 'batch' as const, priority: BATCH_PRIORITY } : { priority: caller.priority };
    return { ...estimate, requestId: randomUUID(), model: req.model, ...lane, tenant: caller.tenant, weight: caller.weight, origin: this.config.replicaId, enqueuedAt: Date.now() };
  }
}
