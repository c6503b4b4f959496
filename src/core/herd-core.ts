import type { HerdConfig } from '../config/herd-config';
import type { Logger } from '../common/logger';
import { FleetRepository } from '../fleet/fleet.repository';
import { BreakerService } from '../fleet/breaker.service';
import { FleetRegistry } from '../fleet/fleet-registry';
import { HeartbeatExpiry } from '../fleet/heartbeat-expiry';
import { NodeHealthService } from '../fleet/node-health.service';
import { LearningService } from '../learning/learning.service';
import { LedgerRepository } from '../fleet/ledger.repository';
import { InferenceService } from '../proxy/inference.service';
import { Dispatcher } from '../queue/dispatcher';
import { DispatchWorker } from '../queue/dispatch-worker';
import { Handoff } from '../queue/handoff';
import { HandoffRepository } from '../queue/handoff.repository';
import { ModelStatsRepository } from '../learning/model-stats.repository';
import { SlotEventsRepository } from '../fleet/slot-events.repository';
import { JobQueueRepository } from '../queue/job-queue.repository';
import { connectRedis, pingRedis, type RedisLike, type RedisTarget } from '../redis/redis-connections';
import { RedisWatchdog } from '../redis/redis-watchdog';
import { HerdError } from '../common/herd-error';
import { RedisKeys } from '../redis/redis-keys';
import { createStrategy } from '../scheduler';
import { OllamaNodeClient } from '../upstream/ollama-node.client';

/**
 * Builds and owns every long-lived part of one Herd replica. Plain classes wired by hand: Nest only sees the
 * finished core, which keeps the parts testable without a DI container.
 */
export class HerdCore {
  private readonly connections: RedisLike[];
  private learningTimer?: NodeJS.Timeout;

  private constructor(
    readonly config: HerdConfig,
    readonly log: Logger,
    readonly keys: RedisKeys,
    readonly redis: RedisLike,
    private readonly subscriber: RedisLike,
    private readonly slotEvents: SlotEventsRepository,
    readonly fleet: FleetRegistry,
    readonly nodeHealth: NodeHealthService,
    readonly fleetRepo: FleetRepository,
    readonly ledger: LedgerRepository,
    readonly queue: JobQueueRepository,
    readonly dispatcher: Dispatcher,
    readonly handoff: Handoff,
    readonly learning: LearningService,
    readonly inference: InferenceService,
    readonly client: OllamaNodeClient,
    private readonly worker: DispatchWorker,
    /** Notices a Redis that stops answering; /health asks it. */
    readonly watchdog: RedisWatchdog,
    others: RedisLike[],
  ) {
    this.connections = [redis, subscriber, ...others];
  }

  static async create(config: HerdConfig, target: RedisTarget, log: Logger): Promise<HerdCore> {
    const timeout = config.redisCommandTimeoutMs;
    const redis = await connectRedis(target, 'command', timeout);
    const [subscriber, producer, workerConn] = await Promise.all([
      connectRedis(target, 'subscriber'),
      connectRedis(target, 'command', timeout),
      connectRedis(target, 'worker', timeout),
    ]);
    const keys = new RedisKeys(config.redisPrefix, target.kind === 'cluster');
    const client = new OllamaNodeClient(config.connectTimeoutMs);
    const fleetRepo = new FleetRepository(redis, subscriber, keys);
    const fleet = new FleetRegistry(fleetRepo, config, log);
    const nodeHealth = new NodeHealthService(fleet, fleetRepo, client, new HeartbeatExpiry(fleet, fleetRepo, config, log), config, log);
    const breakers = new BreakerService(fleet, fleetRepo, nodeHealth, log);
    const ledger = new LedgerRepository(redis, keys);
    const queue = new JobQueueRepository(producer, workerConn, keys);
    const dispatcher = new Dispatcher(fleet, breakers, ledger, createStrategy(config.strategy), config, queue.waitingKeys());
    const handoff = new Handoff(new HandoffRepository(redis, subscriber, keys), config.replicaId);
    const learning = new LearningService(new ModelStatsRepository(redis, keys), fleetRepo, fleet);
    const inference = new InferenceService(config, fleet, nodeHealth, breakers, queue, handoff, dispatcher, ledger, learning, client, log);
    const worker = new DispatchWorker(dispatcher, handoff, ledger, fleet, config, log);
    const slotEvents = new SlotEventsRepository(subscriber, keys, log);
    const watchdog = new RedisWatchdog(() => pingRedis(redis), timeout, log);
    const core = new HerdCore(config, log, keys, redis, subscriber, slotEvents, fleet, nodeHealth, fleetRepo, ledger, queue, dispatcher, handoff, learning, inference, client, worker, watchdog, [producer, workerConn]);
    await core.start();
    return core;
  }

  private async start(): Promise<void> {
    this.slotEvents.onFreed(() => {
      this.dispatcher.wakeAll();
      this.worker.nudge();
    });
    await this.slotEvents.listen();
    await this.handoff.start();
    await this.queue.ready();
    await this.fleet.load();
    await this.nodeHealth.poll();
    await this.fleet.follow();
    this.nodeHealth.start();
    await this.learning.refresh();
    this.fleet.onChange(() => this.worker.nudge());
    this.inference.onEnqueued = () => this.worker.nudge();
    this.worker.mightHaveWork = () => this.inference.queueMayHaveWork();
    this.learningTimer = setInterval(() => void this.learning.refresh().catch(() => undefined), 2000);
    this.learningTimer.unref();
    this.worker.start(this.queue);
    // A Redis that stops answering: requests waiting here are answered 503 instead of waiting out the queue
    // timeout, new ones at once; writes whose answer never came are undone once it answers again.
    this.watchdog.onDown(() => this.inference.failWaiting(HerdError.redisDown()));
    this.inference.redisDown = () => this.watchdog.isDown;
    this.inference.afterRedisRecovers = (task) => this.watchdog.afterRecovery(task);
    this.dispatcher.afterRedisRecovers = (task) => this.watchdog.afterRecovery(task);
    this.watchdog.start();
  }

  async ping(): Promise<boolean> {
    return (await this.watchdog.probe()).ok;
  }

  /** True once a graceful stop began: readiness answers 503, new requests are refused. */
  draining = false;

  /**
   * Graceful stop, first half: refuse new requests. Requests already accepted here (queued or running)
   * still finish, so the pump keeps placing until close().
   */
  drain(): void {
    this.draining = true;
    this.inference.drain();
  }

  async close(): Promise<void> {
    clearInterval(this.learningTimer);
    this.watchdog.stop();
    this.nodeHealth.stop();
    this.inference.stop();
    await this.learning.flush();
    await this.worker.stop();
    await this.queue.close().catch(() => undefined);
    await this.client.close();
    for (const c of this.connections) c.disconnect();
  }
}
