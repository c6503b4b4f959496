import { Inject, Injectable } from '@nestjs/common';
import { CanceledError, HerdError } from '../common/herd-error';
import { HERD_CONFIG, type HerdConfig, type NodeConfig } from '../config/herd-config';
import { BreakerService } from '../fleet/breaker.service';
import { FleetRegistry } from '../fleet/fleet-registry';
import { LedgerRepository, type NodeLoad } from '../fleet/ledger.repository';
import { SlotEventsRepository } from '../fleet/slot-events.repository';
import { RedisKeys } from '../redis/redis-keys';
import { isRedisTimeout, RedisWatchdog } from '../redis/redis-watchdog';
import { batchLaneNodes } from '../scheduler/batch-lane';
import { fastestNode, withOneSlotKept } from '../scheduler/fair-reserve';
import { placingClaim } from '../scheduler/next-ticket';
import type { RankContext, RankedNode, Strategy } from '../scheduler/scheduler.types';
import type { Grant, PlacementRequest } from './grant';

/** Injection token of the configured scheduling strategy (HERD_STRATEGY, see createStrategy). */
export const SCHEDULING_STRATEGY = Symbol('SCHEDULING_STRATEGY');

/** How long a waiting placement sleeps when nothing wakes it (lease expiries publish nothing). */
const FALLBACK_WAKE_MS = 250;

export interface PlaceOptions {
  signal: AbortSignal;
  /** Epoch ms after which placement gives up. */
  deadline: number;
  exclude?: ReadonlySet<string>;
  /**
   * The fair reserve (ADR 006; scheduler/fair-reserve.ts), asked every round with the loads: true while this
   * request may not take the last free slot of its model's fastest node. A failure counts as false.
   */
  spareFastest?: () => Promise<boolean>;
}

/**
 * Turns a request into a reserved slot: rank the eligible nodes (pure strategy), reserve the best one in
 * Redis, and when the best one is busy wait for a slot to free anywhere, then decide again.
 */
@Injectable()
export class PlacementService {
  private readonly waiters = new Set<() => void>();
  private sequence = 0;
  private readonly seenLoads = new Map<string, NodeLoad>();
  /** BullMQ's keys of the jobs not taken yet, read with the loads to know whether anybody waits. */
  private readonly queueKeys: { zsets: string[]; lists: string[] };

  constructor(
    private readonly fleet: FleetRegistry,
    private readonly breakers: BreakerService,
    private readonly ledger: LedgerRepository,
    @Inject(SCHEDULING_STRATEGY) private readonly strategy: Strategy,
    private readonly watchdog: RedisWatchdog,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    keys: RedisKeys,
    slotEvents: SlotEventsRepository,
  ) {
    this.queueKeys = keys.queueWaiting;
    fleet.onChange(() => this.wakeAll());
    slotEvents.onFreed(() => this.wakeAll());
  }

  /** A slot was freed somewhere (this replica or another): every waiting placement looks again. */
  wakeAll(): void {
    for (const w of [...this.waiters]) w();
  }

  /**
   * The fast path: when nobody waits ahead (no queued job, no placement under way) and the best node has a
   * free slot, take it now. The outcome is the one the queue would reach, minus several Redis round trips.
   *
   * On a single Redis it takes one round trip: the node is chosen on the loads this replica saw last, and one
   * script reads the fresh loads and the queue and reserves on that node only if nobody waits and it has room
   * (when the guess is that no node is free, it only reads).
   * The choice is then made again on the fresh loads, with the same clock and random draws: when it agrees (the
   * common case) the outcome is exactly the two-round-trip one; when it does not, the slot goes back and the
   * fresh choice is reserved as before.
   */
  async tryNow(ticket: PlacementRequest, keepFastest = false): Promise<Grant | undefined> {
    const candidates = this.fleet.nodesWithModel(ticket.model);
    if (candidates.length === 0) return undefined;
    const names = candidates.map((n) => n.name);
    // The fair reserve (FairReserveHint): the fastest node's last free slot is not this request's to take.
    const kept = keepFastest ? fastestNode(this.fleet.snapshot(candidates, this.seenLoads).nodes, ticket.model) : undefined;
    const view = (loads: Map<string, NodeLoad>): Map<string, NodeLoad> => (kept === undefined ? loads : this.withSlotKept(loads, kept));
    // One ranking's clock, sequence number and random draws, replayed when the choice is made again.
    const draws: number[] = [];
    const guessCtx: RankContext = { now: Date.now(), rng: () => draws[draws.push(Math.random()) - 1], sequence: this.sequence++ };
    const replay = (): RankContext => {
      let drawn = 0;
      return { now: guessCtx.now, rng: () => (drawn < draws.length ? draws[drawn++] : Math.random()), sequence: guessCtx.sequence };
    };
    const guess = this.rankWith(ticket, candidates, view(this.seenLoads), 0, guessCtx)[0];
    // Every request takes the same steps up to its decision, whatever the guess: requests that end up queued
    // then reach the queue in the order they arrived.
    const target = guess?.free ? guess : undefined;
    const slots = target ? (this.fleet.node(target.node)?.slots ?? 1) : 0;
    const limit = target ? this.slotLimit(target.node, kept) : 0; // 0: read only, reserve nothing
    const tokens = ticket.promptTokens + ticket.outputTokens;
    let seen: Awaited<ReturnType<LedgerRepository['reserveIfIdle']>>;
    try {
      seen = await this.ledger.reserveIfIdle(target?.node ?? names[0], names, this.queueKeys, { requestId: ticket.requestId, slots: limit, tokens, estimateMs: target?.estimateMs ?? 0, leaseMs: this.config.leaseMs });
    } catch (err) {
      if (target && isRedisTimeout(err)) this.watchdog.afterRecovery(() => this.ledger.release(target.node, ticket.requestId));
      throw err;
    }
    if (seen) {
      this.remember(seen.loads);
      if (seen.waiting > 0) return undefined;
      const best = this.rankWith(ticket, candidates, view(seen.loads), 0, replay())[0];
      if (target && seen.reserved) {
        if (best?.node === target.node) {
          // The lease carries the estimate of the fresh ranking, as a reservation made after it would.
          if (Math.round(best.estimateMs) !== Math.round(target.estimateMs)) void this.ledger.restamp(best.node, ticket.requestId, tokens, seen.redisNow, best.estimateMs).catch(() => undefined);
          return this.granted(ticket, best, slots, seen.loads);
        }
        await this.ledger.release(target.node, ticket.requestId);
      }
      if (!best?.free) return undefined;
      return this.reserve(ticket, best, seen.loads, kept);
    }
    // A Redis Cluster: loads and queue first, then the reservation.
    const { loads, waiting } = await this.ledger.loadsAndWaiting(names, this.queueKeys);
    if (waiting > 0) return undefined;
    const best = this.rankWith(ticket, candidates, view(loads), 0, replay())[0];
    if (!best?.free) return undefined;
    return this.reserve(ticket, best, loads, kept);
  }

  /**
   * The batch lane (ADR 008): a slot now when nobody waits in the queue and a node the lane may take is idle
   * (scheduler/batch-lane.ts), else undefined. It never waits and never queues: its runner tries again later.
   */
  async tryBatch(ticket: PlacementRequest): Promise<Grant | undefined> {
    const candidates = this.fleet.nodesWithModel(ticket.model);
    if (candidates.length === 0) return undefined;
    const { loads, waiting } = await this.ledger.loadsAndWaiting(candidates.map((n) => n.name), this.queueKeys);
    if (waiting > 0) return undefined;
    const idleRanking = this.rank(ticket, candidates, new Map(), 0).map((r) => r.node);
    const inFlight = new Map([...loads].map(([node, load]) => [node, load.inFlight]));
    const slots = new Map(candidates.map((n) => [n.name, n.slots]));
    const allowed = new Set(batchLaneNodes(idleRanking, inFlight, slots, this.config.batchKeepFastest));
    const best = this.rank(ticket, candidates, loads, 0).find((r) => allowed.has(r.node) && r.free);
    return best ? this.reserve(ticket, best, loads) : undefined;
  }

  /** Loads seen by the last fast path here: only used to guess the node, never to decide. */
  private remember(loads: Map<string, NodeLoad>): void {
    for (const [node, load] of loads) this.seenLoads.set(node, load);
  }

  /**
   * Fails with HerdError.redisDown() when Redis does not answer (each command is bounded by the command timeout),
   * so a placement never outlives a stuck Redis by more than one command.
   */
  async place(ticket: PlacementRequest, opts: PlaceOptions): Promise<Grant> {
    let placed = false;
    let waitsFor: string | undefined;
    try {
      for (;;) {
        if (opts.signal.aborted) throw new CanceledError();
        // While this placement waits, newcomers queue behind it instead of taking the fast path.
        await this.ledger.markPlacing(ticket.requestId, placingClaim(ticket.model, waitsFor), FALLBACK_WAKE_MS * 4);
        const candidates = this.fleet.nodesWithModel(ticket.model).filter((n) => !opts.exclude?.has(n.name));
        if (candidates.length > 0) {
          // The queue depth comes in the same round trip: the more jobs wait behind this one, the less it
          // should hold a slot while waiting for a busy fast node.
          const [{ loads, queued }, spare] = await Promise.all([
            this.ledger.loadsAndWaiting(candidates.map((n) => n.name), this.queueKeys),
            opts.spareFastest ? opts.spareFastest().catch(() => false) : false,
          ]);
          const kept = spare ? fastestNode(this.fleet.snapshot(candidates, loads).nodes, ticket.model) : undefined;
          const best = this.rank(ticket, candidates, kept === undefined ? loads : this.withSlotKept(loads, kept), queued)[0];
          if (best?.free) {
            const grant = await this.reserve(ticket, best, loads, kept);
            if (grant) {
              placed = true;
              return grant;
            }
            continue; // another replica took that slot first: decide again with fresh loads
          }
          // Waiting for the node that holds the conversation's prompt claims no slot elsewhere (ADR 007).
          const pin = best && (ticket.cachedTokens?.[best.node] ?? 0) > 0 ? best.node : undefined;
          if (pin !== waitsFor) {
            waitsFor = pin;
            await this.ledger.markPlacing(ticket.requestId, placingClaim(ticket.model, waitsFor), FALLBACK_WAKE_MS * 4);
          }
        }
        if (Date.now() >= opts.deadline) throw this.giveUp(ticket.model, candidates.length > 0);
        await this.sleep(opts.signal, Math.min(FALLBACK_WAKE_MS, Math.max(1, opts.deadline - Date.now())));
      }
    } catch (err) {
      throw err instanceof HerdError || err instanceof CanceledError ? err : HerdError.redisDown();
    } finally {
      const unmarked = this.ledger.unmarkPlacing(ticket.requestId).catch(() => undefined);
      // A failed placement answers its client now, not after one more command to a Redis that may not answer.
      if (placed) await unmarked;
    }
  }

  /** The loads as a request kept from `node`'s last free slot sees them: that slot taken. */
  private withSlotKept(loads: Map<string, NodeLoad>, node: string): Map<string, NodeLoad> {
    return withOneSlotKept(loads, node, this.fleet.node(node)?.slots ?? 1, { inFlight: 0, backlogTokens: 0 });
  }

  /** The slots a reservation on `node` may fill: one fewer on the node whose last free slot is kept. */
  private slotLimit(node: string, kept: string | undefined): number {
    const slots = this.fleet.node(node)?.slots ?? 1;
    return node === kept ? slots - 1 : slots;
  }

  private rank(ticket: PlacementRequest, candidates: NodeConfig[], loads: Map<string, NodeLoad>, queued: number): RankedNode[] {
    return this.rankWith(ticket, candidates, loads, queued, { now: Date.now(), rng: Math.random, sequence: this.sequence++ });
  }

  private rankWith(ticket: PlacementRequest, candidates: NodeConfig[], loads: Map<string, NodeLoad>, queued: number, ctx: RankContext): RankedNode[] {
    return this.strategy.rank(
      { model: ticket.model, promptTokens: ticket.promptTokens, outputTokens: ticket.outputTokens, outputTokensKnown: ticket.outputTokensKnown, cachedTokens: ticket.cachedTokens },
      { ...this.fleet.snapshot(candidates, loads), queued },
      ctx,
    );
  }

  /** Reserves a slot of `best` in Redis; on the node `kept`, never its last free one (the script checks). */
  private async reserve(ticket: PlacementRequest, best: RankedNode, loads: Map<string, NodeLoad>, kept?: string): Promise<Grant | undefined> {
    const slots = this.fleet.node(best.node)?.slots ?? 1;
    const tokens = ticket.promptTokens + ticket.outputTokens;
    let reserved: boolean;
    try {
      reserved = await this.ledger.reserve(best.node, ticket.requestId, this.slotLimit(best.node, kept), tokens, best.estimateMs, this.config.leaseMs);
    } catch (err) {
      // No answer in time, but the reservation was sent and may still be made: nobody would use or renew that
      // lease, so give it back once Redis answers instead of letting it hold the slot until it expires.
      if (isRedisTimeout(err)) this.watchdog.afterRecovery(() => this.ledger.release(best.node, ticket.requestId));
      throw err;
    }
    if (!reserved) return undefined;
    return this.granted(ticket, best, slots, loads);
  }

  private granted(ticket: PlacementRequest, best: RankedNode, slots: number, loads: Map<string, NodeLoad>): Grant {
    void this.breakers.noteDispatch(best.node).catch(() => undefined);
    return {
      requestId: ticket.requestId,
      node: best.node,
      estimateMs: best.estimateMs,
      parts: best.parts,
      placedBy: this.config.replicaId,
      placedAt: Date.now(),
      streams: Math.min(slots, (loads.get(best.node)?.inFlight ?? 0) + 1),
    };
  }

  private giveUp(model: string, hadCandidates: boolean): HerdError {
    return hadCandidates
      ? new HerdError(503, 'HERD_QUEUE_TIMEOUT', `herd: timed out waiting for a free slot for model "${model}"`, 5)
      : new HerdError(503, 'HERD_NO_NODE_FOR_MODEL', `herd: no healthy node can serve model "${model}" right now`, 5);
  }

  private sleep(signal: AbortSignal, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
