import { Inject, Injectable } from '@nestjs/common';
import { REDIS_COMMAND, REDIS_SUBSCRIBER, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';

/**
 * The Redis side of the hand-off: a pub/sub channel per replica (grants and placement failures for the requests
 * it holds), one channel for cancellations, and short-lived markers for requests cancelled by their client.
 */
@Injectable()
export class HandoffRepository {
  constructor(
    @Inject(REDIS_COMMAND) private readonly publisher: RedisLike,
    @Inject(REDIS_SUBSCRIBER) private readonly subscriber: RedisLike,
    private readonly keys: RedisKeys,
  ) {}

  /** Subscribes to this replica's channel and the cancel channel; messages go to the handlers as they arrive. */
  async listen(replicaId: string, handlers: { message: (raw: string) => void; cancel: (requestId: string) => void }): Promise<void> {
    const mine = this.keys.replicaChannel(replicaId);
    await this.subscriber.subscribe(mine, this.keys.cancelChannel);
    this.subscriber.on('message', (channel: string, raw: string) => {
      if (channel === this.keys.cancelChannel) handlers.cancel(raw);
      else if (channel === mine) handlers.message(raw);
    });
  }

  /** Sends a message to one replica; resolves to how many subscribers heard it (0: nobody is there). */
  sendToReplica(replicaId: string, raw: string): Promise<number> {
    return this.publisher.publish(this.keys.replicaChannel(replicaId), raw);
  }

  async broadcastCancel(requestId: string): Promise<void> {
    await this.publisher.publish(this.keys.cancelChannel, requestId);
  }

  /** Marks a request as cancelled by its client, for a worker that takes its job later (checked before placing). */
  async markCanceled(requestId: string, ttlMs: number): Promise<void> {
    await this.publisher.set(this.keys.canceled(requestId), '1', 'PX', ttlMs);
  }

  async isCanceled(requestId: string): Promise<boolean> {
    return (await this.publisher.exists(this.keys.canceled(requestId))) > 0;
  }
}
