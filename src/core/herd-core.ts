import { AdmissionService } from '../admission/admission.service';
import type { Logger } from '../common/logger';
import type { HerdConfig } from '../config/herd-config';
import { BreakerService } from '../fleet/breaker.service';
import { FleetRegistry } from '../fleet/fleet-registry';
import { FleetRepository } from '../fleet/fleet.repository';
import { HeartbeatExpiry } from '../fleet/heartbeat-expiry';
import { LedgerRepository } from '../fleet/ledger.repository';
import { NodeHealthService } from '../fleet/node-health.service';
import { SlotEventsRepository } from '../fleet/slot-events.repository';
import { InferenceService } from '../inference/inference.service';
import { LiveAttempts } from '../inference/live-attempts';
import { RequestEvents } from '../inference/request-events';
import { LearningService } from '../learning/learning.service';
import { ModelStatsRepository } from '../learning/model-stats.repository';
import { LeaseKeeper } from '../placement/lease-keeper';
import { PlacementService } from '../placement/placement.service';
import { Handoff } from '../queue/handoff';
import { HandoffRepository } from '../queue/handoff.repository';
import { JobQueueRepository } from '../queue/job-queue.repository';
import { QueueDepth } from '../queue/queue-depth';
import { QueuePump } from '../queue/queue-pump';
import { QueueService } from '../queue/queue.service';
import { connectRedis, pingRedis, type RedisLike, type RedisTarget } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';
import { RedisWatchdog } from '../redis/redis-watchdog';
import { createStrategy } from '../scheduler';
import { OllamaNodeClient } from '../upstream/ollama-node.client';

/**
 * Builds and owns every long-lived part of one Herd replica. Plain classes wired by hand: Nest only sees the
 * finished core, which keeps the parts testable without a DI container.
 */
export class HerdCore {
  private readonly connections: RedisLike[];

  private constructor(
    readonly config: HerdConfig,
    readonly log: Logger,
    private readonly slotEvents: SlotEventsRepository,
    readonly fleet: FleetRegistry,
    readonly nodeHealth: NodeHealthService,
    readonly fleetRepo: FleetRepository,
    readonly ledger: LedgerRepository,
    readonly queue: JobQueueRepository,
    private readonly depth: QueueDepth,
    private readonly handoff: Handoff,
    private readonly leases: LeaseKeeper,
    readonly learning: LearningService,
    readonly admission: AdmissionService,
    readonly inference: InferenceService,
    readonly events: RequestEvents,
    readonly client: OllamaNodeClient,
    private readonly pump: QueuePump,
    /** Notices a Redis that stops answering; /health asks it. */
    readonly watchdog: RedisWatchdog,
    connections: RedisLike[],
  ) {
    this.connections = connections;
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
    const watchdog = new RedisWatchdog(() => pingRedis(redis), timeout, log);
    const client = new OllamaNodeClient(config.connectTimeoutMs);
    const fleetRepo = new FleetRepository(redis, subscriber, keys);
    const ledger = new LedgerRepository(redis, keys);
    const slotEvents = new SlotEventsRepository(subscriber, keys, log);
    const jobs = new JobQueueRepository(producer, workerConn, keys);
    const fleet = new FleetRegistry(fleetRepo, config, log);
    const nodeHealth = new NodeHealthService(fleet, fleetRepo, client, new HeartbeatExpiry(fleet, fleetRepo, config, log), config, log);
    const breakers = new BreakerService(fleet, fleetRepo, nodeHealth, log);
    const learning = new LearningService(new ModelStatsRepository(redis, keys), fleetRepo, fleet, breakers, nodeHealth, log);
    const placement = new PlacementService(fleet, breakers, ledger, createStrategy(config.strategy), watchdog, config, keys, slotEvents);
    const leases = new LeaseKeeper(ledger, placement, config, log);
    const handoff = new Handoff(new HandoffRepository(redis, subscriber, keys), leases, config.replicaId);
    const depth = new QueueDepth(jobs);
    const pump = new QueuePump(placement, handoff, jobs, depth, ledger, fleet, config, log, slotEvents);
    const queue = new QueueService(placement, handoff, jobs, depth, pump, ledger, watchdog, config, log);
    const admission = new AdmissionService(fleet, depth, learning, config);
    const events = new RequestEvents();
    const inference = new InferenceService(admission, queue, placement, leases, new LiveAttempts(fleet), fleet, nodeHealth, breakers, learning, client, events, config, log);
    const core = new HerdCore(config, log, slotEvents, fleet, nodeHealth, fleetRepo, ledger, jobs, depth, handoff, leases, learning, admission, inference, events, client, pump, watchdog, [redis, subscriber, producer, workerConn]);
    await core.start();
    return core;
  }

  private async start(): Promise<void> {
    this.leases.start();
    this.depth.start();
    await this.slotEvents.listen();
    await this.handoff.start();
    await this.queue.ready();
    await this.fleet.load();
    await this.nodeHealth.poll();
    await this.fleet.follow();
    this.nodeHealth.start();
    await this.learning.start();
    this.pump.start();
    this.watchdog.start();
  }

  async ping(): Promise<boolean> {
    return (await this.watchdog.probe()).ok;
  }

  /** True once a graceful stop began: readiness answers 503, new requests are refused. */
  get draining(): boolean {
    return this.admission.draining;
  }

  /**
   * Graceful stop, first half: refuse new requests. Requests already accepted here (queued or running)
   * still finish, so the pump keeps placing until close().
   */
  drain(): void {
    this.admission.drain();
  }

  async close(): Promise<void> {
    this.watchdog.stop();
    this.nodeHealth.stop();
    this.leases.stop();
    this.depth.stop();
    await this.learning.stop();
    await this.pump.stop();
    await this.queue.close().catch(() => undefined);
    await this.client.close();
    for (const c of this.connections) c.disconnect();
  }
}
