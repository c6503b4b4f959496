import { Inject, Injectable } from '@nestjs/common';
import { REDIS_COMMAND, REDIS_SUBSCRIBER, type RedisLike } from '../redis/redis-connections';
import type { NodeConfig } from '../config/herd-config';
import { RedisKeys } from '../redis/redis-keys';
import type { ModelRates } from '../scheduler/scheduler.types';
import { normalizeModelName } from '../scheduler/model-name';
import type { NodeHealth } from './fleet.types';
import type { CircuitState } from './circuit-breaker';
import { parseJsonHash } from '../redis/json-hash';

export interface FleetState {
  nodes: NodeConfig[];
  health: Map<string, NodeHealth>;
  /** Keyed `node|model` (rateKey: the model's normalised name). */
  rates: Map<string, ModelRates>;
  circuits: Map<string, CircuitState>;
}

/** Where a node's learned rates for a model live: one key per model however it is spelled. */
export function rateKey(node: string, model: string): string {
  return `${node}|${normalizeModelName(model)}`;
}

/** The fleet registry, node health and learned rates in Redis: the source of truth every replica reads. */
@Injectable()
export class FleetRepository {
  constructor(
    @Inject(REDIS_COMMAND) private readonly redis: RedisLike,
    @Inject(REDIS_SUBSCRIBER) private readonly subscriber: RedisLike,
    private readonly keys: RedisKeys,
  ) {}

  /** Writes the configured nodes only when the registry is empty; returns how many were written. */
  async seed(nodes: NodeConfig[]): Promise<number> {
    if (nodes.length === 0 || (await this.redis.exists(this.keys.nodes))) return 0;
    // Two replicas starting together may both get here; they write the same file, so the race is harmless.
    await this.redis.hset(this.keys.nodes, ...nodes.flatMap((n) => [n.name, JSON.stringify(n)]));
    await this.announce();
    return nodes.length;
  }

  async upsertNode(node: NodeConfig): Promise<void> {
    await this.redis.hset(this.keys.nodes, node.name, JSON.stringify(node));
    await this.announce();
  }

  async removeNode(name: string): Promise<boolean> {
    const removed = await this.redis.hdel(this.keys.nodes, name);
    await this.redis.hdel(this.keys.health, name);
    await this.redis.hdel(this.keys.circuits, name);
    await this.redis.hdel(this.keys.heartbeats, name);
    await this.announce();
    return removed === 1;
  }

  async load(): Promise<FleetState> {
    const [[e1, nodes], [e2, health], [e3, rates], [e4, circuits]] = ((await this.redis
      .pipeline()
      .hgetall(this.keys.nodes)
      .hgetall(this.keys.health)
      .hgetall(this.keys.rates)
      .hgetall(this.keys.circuits)
      .exec()) ?? []) as [Error | null, Record<string, string>][];
    const err = e1 ?? e2 ?? e3 ?? e4;
    if (err) throw err;
    return {
      nodes: [...parseJsonHash<NodeConfig>(nodes).values()].sort((a, b) => a.name.localeCompare(b.name)),
      health: parseJsonHash<NodeHealth>(health),
      rates: parseJsonHash<ModelRates>(rates),
      circuits: parseJsonHash<CircuitState>(circuits),
    };
  }

  async saveHealth(entries: Map<string, NodeHealth>): Promise<void> {
    if (entries.size === 0) return;
    const fields = [...entries].flatMap(([name, h]) => [name, JSON.stringify(h)]);
    await this.redis.hset(this.keys.health, ...fields);
    await this.announce();
  }

  async recordHeartbeat(name: string, at: number): Promise<void> {
    await this.redis.hset(this.keys.heartbeats, name, String(at));
  }

  async heartbeats(): Promise<Map<string, number>> {
    const raw = await this.redis.hgetall(this.keys.heartbeats);
    return new Map(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }

  async saveCircuit(name: string, state: CircuitState): Promise<void> {
    await this.redis.hset(this.keys.circuits, name, JSON.stringify(state));
    await this.announce();
  }

  async saveRates(node: string, model: string, rates: ModelRates): Promise<void> {
    await this.redis.hset(this.keys.rates, rateKey(node, model), JSON.stringify(rates));
  }

  /** Calls `fn` whenever a replica announces a change (see announce). */
  async listenForChanges(fn: () => void): Promise<void> {
    await this.subscriber.subscribe(this.keys.fleetChannel);
    this.subscriber.on('message', (channel: string) => {
      if (channel === this.keys.fleetChannel) fn();
    });
  }

  /** Tells every replica to re-read the fleet now instead of at its next tick. */
  async announce(): Promise<void> {
    await this.redis.publish(this.keys.fleetChannel, '1');
  }

  /** True for the one replica that should poll node health during this interval. */
  async acquireHealthLock(owner: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.healthLock, owner, 'PX', ttlMs, 'NX')) === 'OK';
  }
}
