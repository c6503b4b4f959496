import { Inject, Injectable } from '@nestjs/common';
import { Listeners } from '../common/listeners';
import { Logger } from '../common/logger';
import { REDIS_SUBSCRIBER, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';

/**
 * "A slot was freed": the release script of LedgerRepository publishes it whenever a lease is given back, on any
 * replica; every replica hears it here and looks again at what waits (placements, its queue pump).
 */
@Injectable()
export class SlotEventsRepository {
  private readonly freed: Listeners<[]>;

  constructor(
    @Inject(REDIS_SUBSCRIBER) private readonly subscriber: RedisLike,
    private readonly keys: RedisKeys,
    log: Logger,
  ) {
    this.freed = new Listeners((err) => log.error('slot-freed listener failed', { error: (err as Error)?.stack ?? String(err) }));
  }

  /** Called for every slot freed anywhere, once `listen` has subscribed. */
  onFreed(fn: () => void): void {
    this.freed.add(fn);
  }

  async listen(): Promise<void> {
    this.subscriber.on('message', (channel: string) => {
      if (channel === this.keys.freedChannel) this.freed.emit();
    });
    await this.subscriber.subscribe(this.keys.freedChannel);
  }
}
