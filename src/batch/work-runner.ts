import type { Logger } from '../common/logger';
import { slotWaitMs, type RetryDecision } from './retry-policy';
import type { Claim, WorkLane, WorkRepository } from './work.repository';

/** What happened to one claimed piece of work. `done`: the handler let go of the claim itself (result written, or dropped). */
export type WorkVerdict = { kind: 'done' } | Extract<RetryDecision, { kind: 'later' }>;

/** Why a runner aborted work it held: its replica is stopping, its lease was lost, or the work was canceled. */
export type AbortReason = 'stopping' | 'lease-lost' | 'canceled';

/** Runs the work of one lane: batch lines or async jobs. */
export interface WorkHandler {
  readonly lane: WorkLane;
  /** Most pieces of the lane running at once across all replicas, as this replica sees the fleet now. */
  cap(): number;
  /** Runs one claimed piece to its end. The signal's reason is an AbortReason. */
  handle(claim: Claim, signal: AbortSignal): Promise<WorkVerdict>;
}

/** How long a runner with nothing to claim waits before asking again (new work here wakes it at once). */
const IDLE_MS = 500;
/** How long after Redis failed a claim the runner asks again. */
const ERROR_MS = 1000;
/** After "a slot was freed", work given back for want of a slot is taken up to this early. */
const SLOT_HORIZON_MS = 250;

interface Held {
  claim: Claim;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * One replica's runner for one lane: claims work from Redis while the lane has room (its cap holds across every
 * replica: see WorkRepository), runs each piece with the handler, renews the leases of what it holds, and gives
 * back what it cannot finish now. Every replica runs one per lane, so work continues while any replica lives.
 */
export class WorkRunner {
  private readonly held = new Map<string, Held>();
  private running = false;
  /** False once the replica began shutting down: what it holds finishes, nothing new is taken. */
  private claiming = true;
  private loop?: Promise<void>;
  private renewTimer?: NodeJS.Timeout;
  private wakeUp?: () => void;
  private slotJustFreed = false;
  /** Whether the last claim saw work waiting: with none, a freed slot is no reason to ask Redis again. */
  private workWaiting = true;

  constructor(
    private readonly handler: WorkHandler,
    private readonly repo: WorkRepository,
    private readonly leaseMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.renewTimer = setInterval(() => void this.renewAll(), Math.max(100, Math.floor(this.leaseMs / 3)));
    this.loop = this.run();
  }

  /** New work may be ready (submitted here): look now. */
  kick(): void {
    this.workWaiting = true;
    this.wakeUp?.();
  }

  /**
   * A slot was freed somewhere: work waiting for one may run now. Slots free with every request, so without work
   * waiting this does nothing (new work wakes the runner of its replica; others find it at their next idle look).
   */
  slotFreed(): void {
    if (!this.workWaiting) return;
    this.slotJustFreed = true;
    this.wakeUp?.();
  }

  /** Aborts a piece this runner holds (a canceled job). */
  abort(member: string, reason: AbortReason): void {
    this.held.get(member)?.controller.abort(reason);
  }

  /** Stops claiming; what is running is aborted and given back, so another replica takes it at once. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.renewTimer);
    this.wakeUp?.();
    await this.loop;
    const held = [...this.held.values()];
    for (const h of held) h.controller.abort('stopping' satisfies AbortReason);
    await Promise.allSettled(held.map((h) => h.done));
  }

  /** Pieces this replica runs now. */
  get size(): number {
    return this.held.size;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let delay = IDLE_MS;
      const cap = this.handler.cap();
      const room = cap - this.held.size;
      if (room > 0 && this.claiming) {
        const early = this.slotJustFreed ? SLOT_HORIZON_MS : 0;
        this.slotJustFreed = false;
        try {
          const { claims, nextDueMs } = await this.repo.claim(this.handler.lane, cap, this.leaseMs, room, early);
          for (const claim of claims) this.begin(claim);
          this.workWaiting = claims.length > 0 || nextDueMs >= 0;
          if (claims.length > 0 && claims.length < room) delay = 0;
          else if (nextDueMs >= 0) delay = Math.min(IDLE_MS, Math.max(nextDueMs, slotWaitMs(Math.random())));
        } catch (err) {
          this.log.warn('work runner could not claim work', { lane: this.handler.lane, error: (err as Error).message });
          delay = ERROR_MS;
        }
      }
      if (delay > 0 && this.running) await this.sleep(delay);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private begin(claim: Claim): void {
    const controller = new AbortController();
    const entry: Held = { claim, controller, done: Promise.resolve() };
    this.held.set(claim.member, entry);
    entry.done = this.runOne(claim, controller);
  }

  private async runOne(claim: Claim, controller: AbortController): Promise<void> {
    try {
      const verdict = await this.handler.handle(claim, controller.signal);
      if (verdict.kind === 'later') {
        // The replica is shutting down (admission is closed for good): take nothing more, leave the rest to others.
        if (verdict.stopClaiming) this.claiming = false;
        await this.repo.giveBack(this.handler.lane, claim, verdict.delayMs, verdict.counts);
      }
    } catch (err) {
      // Most likely Redis went away; if it cannot be given back either, its lease expires and it runs again.
      this.log.warn('work failed; giving it back', { lane: this.handler.lane, member: claim.member, error: (err as Error).message });
      await this.repo.giveBack(this.handler.lane, claim, ERROR_MS, true).catch(() => undefined);
    } finally {
      this.held.delete(claim.member);
      this.wakeUp?.();
    }
  }

  private async renewAll(): Promise<void> {
    await Promise.all(
      [...this.held.values()].map(async (h) => {
        const kept = await this.repo.renew(this.handler.lane, h.claim, this.leaseMs).catch(() => true);
        if (!kept) h.controller.abort('lease-lost' satisfies AbortReason);
      }),
    );
  }
}
