import type { Logger } from '../common/logger';
import { Listeners } from '../common/listeners';

/** What ioredis rejects a command with when `commandTimeout` passed without an answer. */
const TIMED_OUT = 'Command timed out';

/** True for a command given up after the command timeout: it was sent and may still run once Redis answers. */
export function isRedisTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === TIMED_OUT;
}

export type RedisCheck = { ok: true } | { ok: false; message: string };

interface RecoveryTask {
  run: () => Promise<unknown>;
  until: number;
}

/** Clean-ups kept for after an outage; beyond this, the oldest are dropped (their leases and jobs expire anyway). */
const MAX_RECOVERY_TASKS = 10_000;
/** A clean-up still not done after this long is dropped. */
const RECOVERY_TASK_TTL_MS = 120_000;

/**
 * Notices a Redis that stops answering. A Redis that closes its connections is noticed by ioredis; one that
 * keeps them open but answers nothing (paused, overloaded) only shows as commands that time out, one request
 * at a time. Requests waiting for a grant send no command at all while they wait, so without this they would
 * wait out the queue timeout. The watchdog PINGs every quarter second (one PING at a time, each bounded by
 * the command timeout) and calls `onDown` listeners when a PING times out, or when PINGs have failed for a
 * whole command timeout (a dropped connection gets that long to come back), and `onUp` listeners when one
 * is answered again.
 *
 * It also keeps clean-ups for writes whose answer never came (a slot reservation, an enqueued job): such a
 * write was sent and runs once Redis answers again, so its undo is run after the first PING, sent after the
 * undo was registered, is answered. On one connection Redis answers in order, so the undo runs after the write.
 */
export class RedisWatchdog {
  private down?: { reason: string; since: number };
  private failingSince?: number;
  private probing?: Promise<RedisCheck>;
  private timer?: NodeJS.Timeout;
  private tasks: RecoveryTask[] = [];
  private readonly downListeners: Listeners<[string]>;
  private readonly upListeners: Listeners<[]>;
  readonly intervalMs: number;

  constructor(
    private readonly ping: () => Promise<unknown>,
    readonly timeoutMs: number,
    private readonly log: Logger,
  ) {
    this.intervalMs = Math.max(10, Math.min(250, timeoutMs));
    const onError = (err: unknown): void => this.log.error('redis watchdog listener failed', { error: (err as Error)?.stack ?? String(err) });
    this.downListeners = new Listeners(onError);
    this.upListeners = new Listeners(onError);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.probe(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** True while Redis is known not to answer. */
  get isDown(): boolean {
    return this.down !== undefined;
  }

  /** Called when Redis is found not answering, and again after every failed PING while it stays so. */
  onDown(fn: (reason: string) => void): void {
    this.downListeners.add(fn);
  }

  /** Called once when Redis answers again after being down. */
  onUp(fn: () => void): void {
    this.upListeners.add(fn);
  }

  /** Runs `task` once Redis answered a PING sent after this call (retried after a failure until it is old). */
  afterRecovery(task: () => Promise<unknown>): void {
    this.tasks.push({ run: task, until: Date.now() + RECOVERY_TASK_TTL_MS });
    if (this.tasks.length > MAX_RECOVERY_TASKS) this.tasks.splice(0, this.tasks.length - MAX_RECOVERY_TASKS);
  }

  /** Clean-ups waiting for Redis to answer. */
  pendingRecoveryTasks(): number {
    return this.tasks.length;
  }

  /**
   * For /health: Redis as of now. Known down → the reason at once (no second wait for a PING that will time out
   * too); otherwise a PING, or the one already under way.
   */
  check(): Promise<RedisCheck> {
    return this.down ? Promise.resolve({ ok: false, message: this.down.reason }) : this.probe();
  }

  /** One PING at a time: a caller arriving while one is under way shares its outcome. */
  probe(): Promise<RedisCheck> {
    this.probing ??= this.pingOnce().finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async pingOnce(): Promise<RedisCheck> {
    // Undos registered before this PING was sent may run once it is answered.
    const ready = this.tasks;
    this.tasks = [];
    try {
      await this.ping();
    } catch (err) {
      this.tasks = [...ready, ...this.tasks];
      return this.failed(err);
    }
    this.answered();
    this.runTasks(ready);
    return { ok: true };
  }

  private failed(err: unknown): RedisCheck {
    const now = Date.now();
    this.failingSince ??= now;
    const timedOut = isRedisTimeout(err);
    const message = timedOut ? `Redis did not answer within ${this.timeoutMs} ms` : `Redis does not answer PING (${(err as Error)?.message ?? String(err)})`;
    if (timedOut || now - this.failingSince >= this.timeoutMs) {
      if (!this.down) this.log.warn('Redis does not answer: answering waiting requests 503 until it does', { reason: message });
      this.down = { reason: message, since: this.down?.since ?? this.failingSince };
      this.downListeners.emit(message);
    }
    return { ok: false, message };
  }

  private answered(): void {
    this.failingSince = undefined;
    if (!this.down) return;
    this.log.info('Redis answers again', { downMs: Date.now() - this.down.since });
    this.down = undefined;
    this.upListeners.emit();
  }

  private runTasks(tasks: RecoveryTask[]): void {
    for (const task of tasks) {
      void task.run().catch(() => {
        if (Date.now() < task.until) this.tasks.push(task);
      });
    }
  }
}
