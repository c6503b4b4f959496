/** Every Redis key Herd uses, from one place, under one prefix (so tests and deployments can share a server). */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** BullMQ queue name (BullMQ adds its own `bull:` prefix under our prefix option). */
  get queueName(): string {
    return 'requests';
  }
  /** Prefix handed to BullMQ so its keys live beside ours. */
  get bullPrefix(): string {
    return `${this.prefix}:bull`;
  }
  /** Hash: node name -> JSON NodeConfig. The fleet registry. */
  get nodes(): string {
    return `${this.prefix}:nodes`;
  }
  /** Hash: node name -> JSON NodeHealth (status, models, resident, failures, checkedAt). */
  get health(): string {
    return `${this.prefix}:health`;
  }
  /** Zset of requests a worker is placing right now (member id, score expiry): while any exists, no request skips the queue. */
  get placing(): string {
    return `${this.prefix}:placing`;
  }
  /** Hash: node name -> epoch ms of its last heartbeat (self-registered nodes only). */
  get heartbeats(): string {
    return `${this.prefix}:heartbeats`;
  }
  /** Hash: node name -> JSON CircuitState (kept apart from health so a poll never overwrites a breaker). */
  get circuits(): string {
    return `${this.prefix}:circuits`;
  }
  /** Zset of leases on one node (hash-tagged so a node's two keys share a Cluster slot): member request id, score expiry (ms). Its size is the node's in-flight count. */
  leases(node: string): string {
    return `${this.prefix}:leases:{${node}}`;
  }
  /** Hash of one node's leases: request id -> estimated tokens, for the node's backlog. */
  leaseTokens(node: string): string {
    return `${this.prefix}:lease-tokens:{${node}}`;
  }
  /** Hash: `node|model` -> JSON ModelRates learned from final chunks. */
  get rates(): string {
    return `${this.prefix}:rates`;
  }
  /** Hash: model -> JSON model stats (recent output length, prompt correction). */
  get modelStats(): string {
    return `${this.prefix}:model-stats`;
  }
  /** Short-lived lock: which replica polls node health this tick. */
  get healthLock(): string {
    return `${this.prefix}:lock:health`;
  }
  /** Counter for rotating strategies, shared by replicas. */
  get sequence(): string {
    return `${this.prefix}:sequence`;
  }
  /** Marker that a request was cancelled by its client (checked before a grant). */
  canceled(requestId: string): string {
    return `${this.prefix}:canceled:${requestId}`;
  }
  /** Pub/sub: a slot was freed on some node (message: node name). */
  get freedChannel(): string {
    return `${this.prefix}:ch:freed`;
  }
  /** Pub/sub: messages for one replica (grants, done notices). */
  replicaChannel(replicaId: string): string {
    return `${this.prefix}:ch:replica:${replicaId}`;
  }
  /** Pub/sub: a client cancelled a request; whoever holds it lets go. */
  get cancelChannel(): string {
    return `${this.prefix}:ch:cancel`;
  }
  /** Pub/sub: the fleet changed (nodes or health); replicas refresh their snapshot. */
  get fleetChannel(): string {
    return `${this.prefix}:ch:fleet`;
  }
}
