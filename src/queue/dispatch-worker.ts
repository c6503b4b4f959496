import type { Redis } from 'ioredis';
import type { HerdConfig } from '../config/herd-config';
import { HerdError } from '../common/herd-error';
import type { Logger } from '../common/logger';
import type { LedgerRepository } from '../fleet/ledger.repository';
import type { RedisKeys } from '../redis/redis-keys';
import { CanceledError, type Dispatcher } from './dispatcher';
import type { Handoff } from './handoff';
import type { JobQueueRepository } from './job-queue.repository';
import type { Grant, Ticket } from './ticket';

/**
 * The BullMQ processor every replica runs. A job becomes active only when the queue's global concurrency
 * allows it; the processor places it on a node, hands the grant to the replica holding the client, and keeps
 * the job active until that replica says the request ended (or its lease lapses because that replica died).
 */
export class DispatchWorker {
  private readonly placing = new Map<string, AbortController>();

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly handoff: Handoff,
    private readonly ledger: LedgerRepository,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly config: HerdConfig,
    private readonly log: Logger,
  ) {
    handoff.onCancel((id) => this.placing.get(id)?.abort());
  }

  start(queue: JobQueueRepository): void {
    queue.startWorker((ticket) => this.process(ticket), 10_000);
  }

  async process(ticket: Ticket): Promise<void> {
    const ac = new AbortController();
    this.placing.set(ticket.requestId, ac);
    let grant: Grant;
    try {
      if (await this.redis.exists(this.keys.canceled(ticket.requestId))) return;
      grant = await this.dispatcher.place(ticket, { signal: ac.signal, deadline: ticket.enqueuedAt + this.config.queueTimeoutMs });
    } catch (err) {
      if (err instanceof CanceledError) return;
      const herdErr = err instanceof HerdError ? err : HerdError.redisDown();
      await this.handoff.fail(ticket.origin, ticket.requestId, herdErr).catch(() => undefined);
      return;
    } finally {
      this.placing.delete(ticket.requestId);
    }

    const done = this.handoff.waitDone(ticket.requestId);
    const delivered = await this.handoff.deliver(ticket.origin, grant).catch(() => false);
    if (!delivered) {
      done.stop();
      this.log.debug('grant had no taker; slot released', { id: ticket.requestId, node: grant.node });
      await this.ledger.release(grant.node, ticket.requestId);
      return;
    }
    const lapsed = this.watchLease(grant);
    await Promise.race([done.promise, lapsed.promise]);
    done.stop();
    lapsed.stop();
  }

  /** Resolves once the request's lease is gone (released, or expired because its replica died). */
  private watchLease(grant: Grant): { promise: Promise<void>; stop: () => void } {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const promise = new Promise<void>((resolve) => {
      const check = async (): Promise<void> => {
        if (stopped) return resolve();
        const held = await this.ledger.holds(grant.node, grant.requestId).catch(() => true);
        if (!held) return resolve();
        timer = setTimeout(() => void check(), this.config.leaseMs);
      };
      timer = setTimeout(() => void check(), this.config.leaseMs);
    });
    return {
      promise,
      stop: () => {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }
}
