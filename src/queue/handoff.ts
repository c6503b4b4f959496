import type { RedisLike } from '../redis/redis-connections';
import type { RedisKeys } from '../redis/redis-keys';
import { HerdError } from '../common/herd-error';
import { Listeners } from '../common/listeners';
import type { Grant } from './ticket';

type Message =
  | { t: 'grant'; grant: Grant }
  | { t: 'fail'; id: string; status: number; code: HerdError['code']; message: string };

interface Pending {
  resolve: (g: Grant) => void;
  reject: (e: Error) => void;
}

/**
 * Carries grants (or a placement failure) from the replica whose worker placed a ticket to the replica holding
 * the client connection, and cancellations to whoever is placing. Inside one replica it is a function call;
 * across replicas, Redis pub/sub on a channel per replica.
 */
export class Handoff {
  private readonly grants = new Map<string, Pending>();
  private readonly cancelListeners = new Listeners<[string]>();
  /** Grants that arrived for requests this replica no longer waits for (cancelled, timed out). */
  orphanHandler: (grant: Grant) => void = () => undefined;

  constructor(
    private readonly publisher: RedisLike,
    private readonly keys: RedisKeys,
    private readonly replicaId: string,
  ) {}

  async start(subscriber: RedisLike): Promise<void> {
    const mine = this.keys.replicaChannel(this.replicaId);
    await subscriber.subscribe(mine, this.keys.cancelChannel);
    subscriber.on('message', (channel: string, raw: string) => {
      if (channel === this.keys.cancelChannel) {
        this.cancelListeners.emit(raw);
      } else if (channel === mine) {
        this.receive(JSON.parse(raw) as Message);
      }
    });
  }

  private receive(msg: Message): void {
    switch (msg.t) {
      case 'grant': {
        const p = this.grants.get(msg.grant.requestId);
        this.grants.delete(msg.grant.requestId);
        if (p) p.resolve(msg.grant);
        else this.orphanHandler(msg.grant);
        return;
      }
      case 'fail': {
        const p = this.grants.get(msg.id);
        this.grants.delete(msg.id);
        p?.reject(new HerdError(msg.status, msg.code, msg.message));
        return;
      }
    }
  }

  /** Origin side: a promise for the grant of a request about to be enqueued. */
  expectGrant(id: string): Promise<Grant> {
    return new Promise((resolve, reject) => this.grants.set(id, { resolve, reject }));
  }

  /** Origin side: stop waiting (cancelled or timed out). A grant arriving later goes to orphanHandler. */
  forget(id: string): void {
    this.grants.delete(id);
  }

  /** Worker side: hands the grant to the origin replica. False when nobody is there to take it. */
  async deliver(origin: string, grant: Grant): Promise<boolean> {
    if (origin === this.replicaId) {
      const p = this.grants.get(grant.requestId);
      this.grants.delete(grant.requestId);
      p?.resolve(grant);
      return p !== undefined;
    }
    const receivers = await this.publisher.publish(this.keys.replicaChannel(origin), JSON.stringify({ t: 'grant', grant } satisfies Message));
    return receivers > 0;
  }

  /** Worker side: placement failed for good; the origin answers its client with this error. */
  async fail(origin: string, id: string, err: HerdError): Promise<void> {
    if (origin === this.replicaId) {
      const p = this.grants.get(id);
      this.grants.delete(id);
      p?.reject(err);
      return;
    }
    const msg: Message = { t: 'fail', id, status: err.status, code: err.code, message: err.message };
    await this.publisher.publish(this.keys.replicaChannel(origin), JSON.stringify(msg));
  }

  onCancel(fn: (id: string) => void): void {
    this.cancelListeners.add(fn);
  }

  async broadcastCancel(id: string): Promise<void> {
    this.cancelListeners.emit(id);
    await this.publisher.publish(this.keys.cancelChannel, id);
  }
}
