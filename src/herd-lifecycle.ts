import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { WorkRunners } from './batch/work-runners';
import { FleetRegistry } from './fleet/fleet-registry';
import { NodeHealthService } from './fleet/node-health.service';
import { SlotEventsRepository } from './fleet/slot-events.repository';
import { LearningService } from './learning/learning.service';
import { LeaseKeeper } from './placement/lease-keeper';
import { Handoff } from './queue/handoff';
import { JobQueueRepository } from './queue/job-queue.repository';
import { QueueDepth } from './queue/queue-depth';
import { QueuePump } from './queue/queue-pump';
import { RedisWatchdog } from './redis/redis-watchdog';
import { OllamaNodeClient } from './upstream/ollama-node.client';

/**
 * Start-up and shut-down order of one replica, in one place. Nest calls start once every provider exists and
 * before the HTTP server listens (the Redis connections were proven before Nest started); stop after the HTTP
 * server closed. The Redis connections themselves are closed by bootstrap, which opened them.
 */
@Injectable()
export class HerdLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly leases: LeaseKeeper,
    private readonly depth: QueueDepth,
    private readonly slotEvents: SlotEventsRepository,
    private readonly handoff: Handoff,
    private readonly jobs: JobQueueRepository,
    private readonly fleet: FleetRegistry,
    private readonly nodeHealth: NodeHealthService,
    private readonly learning: LearningService,
    private readonly pump: QueuePump,
    private readonly watchdog: RedisWatchdog,
    private readonly client: OllamaNodeClient,
    private readonly batchWork: WorkRunners,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.leases.start(); // renew the leases of running requests
    this.depth.start(); // count the shared queue
    await this.slotEvents.listen(); // hear slots freed anywhere
    await this.handoff.start(); // hear grants for this replica, and cancellations
    await this.jobs.ready(); // BullMQ queue and worker; stalled jobs go back to waiting
    await this.fleet.load(); // seed an empty registry from the containers config, read it
    await this.nodeHealth.poll(); // know which nodes are up before the first request
    await this.fleet.follow(); // re-read the fleet whenever a replica announces a change
    this.nodeHealth.start(); // poll every health interval
    await this.learning.start(); // what every replica learned so far
    this.pump.start(); // take queued jobs when the fleet has room
    await this.batchWork.start(); // run batch lines and async jobs while the lanes have room
    this.watchdog.start(); // PING Redis four times a second
  }

  async onApplicationShutdown(): Promise<void> {
    this.watchdog.stop();
    this.nodeHealth.stop();
    this.leases.stop();
    this.depth.stop();
    await this.learning.stop(); // writes what was learned and not yet stored
    await this.batchWork.stop(); // take no more batch lines or jobs; give back what runs here
    await this.pump.stop();
    await this.jobs.close().catch(() => undefined);
    await this.client.close();
  }
}
