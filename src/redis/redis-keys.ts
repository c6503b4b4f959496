/**
 * Every Redis key Herd uses, from one place, under one prefix (so tests and deployments can share a server).
 *
 * On a Redis Cluster the shared keys (queue, fleet, placing, markers) start with the prefix as a hash tag,
 * `{herd}:…`, so BullMQ's scripts and Herd's pipelines over them touch one slot. The per-node lease keys keep
 * the plain prefix and tag the node name instead, so nodes spread over the cluster. On a single Redis the names
 * are unchanged (`herd:…`).
 */
export class RedisKeys {
  /** Start of every key except the per-node lease keys. */
  private readonly shared: string;

  constructor(
    readonly prefix: string,
    readonly cluster = false,
  ) {
    this.shared = cluster ? `{${prefix}}` : prefix;
  }

  /** BullMQ queue name (BullMQ adds its own `bull:` prefix under our prefix option). */
  get queueName(): string {
    return 'requests';
  }
  /** Prefix handed to BullMQ so its keys live beside ours (a hash tag on a cluster, as BullMQ requires there). */
  get bullPrefix(): string {
    return `${this.shared}:bull`;
  }
  /**
   * BullMQ's keys of the jobs not taken yet (the prioritized zset, the wait and paused lists; BullMQ names its
   * keys `<prefix>:<queue>:<type>`), read with the node loads in one round trip to know whether anybody waits.
   */
  get queueWaiting(): { zsets: string[]; lists: string[] } {
    const queue = `${this.bullPrefix}:${this.queueName}`;
    return { zsets: [`${queue}:prioritized`], lists: [`${queue}:wait`, `${queue}:paused`] };
  }
  /** Hash: node name -> JSON NodeConfig. The fleet registry. */
  get nodes(): string {
    return `${this.shared}:nodes`;
  }
  /** Hash: node name -> JSON NodeHealth (status, models, resident, failures, checkedAt). */
  get health(): string {
    return `${this.shared}:health`;
  }
  /** Zset of requests a worker is placing right now (member id, score expiry): while any exists, no request skips the queue. */
  get placing(): string {
    return `${this.shared}:placing`;
  }
  /** Short lock: which replica's queue pump is choosing the next job (one at a time, so two never fill one free slot). */
  get pumpTurn(): string {
    return `${this.shared}:pump-turn`;
  }
  /** Hash: request id -> model of a placement under way (beside `placing`, so the pump knows which models wait). */
  get placingModels(): string {
    return `${this.shared}:placing-models`;
  }
  /** Hash: node name -> epoch ms of its last heartbeat (self-registered nodes only). */
  get heartbeats(): string {
    return `${this.shared}:heartbeats`;
  }
  /** Hash: node name -> JSON CircuitState (kept apart from health so a poll never overwrites a breaker). */
  get circuits(): string {
    return `${this.shared}:circuits`;
  }
  /** Zset of leases on one node (hash-tagged so a node's two keys share a Cluster slot): member request id, score expiry (ms). Its size is the node's in-flight count. */
  leases(node: string): string {
    return `${this.prefix}:leases:{${node}}`;
  }
  /** Hash of one node's leases: request id -> estimated tokens, for the node's backlog. */
  leaseTokens(node: string): string {
    return `${this.prefix}:lease-tokens:{${node}}`;
  }
  /** Zset of the prompt prefix links one node served lately for one model: member link hash, score its serving sequence. */
  affinityLinks(node: string, model: string): string {
    return `${this.prefix}:affinity:{${node}}:${model}`;
  }
  /** One node's serving sequence for one model (one per request served), beside affinityLinks in its slot. */
  affinitySeq(node: string, model: string): string {
    return `${this.prefix}:affinity-seq:{${node}}:${model}`;
  }
  /** Zset of the conversations whose turns started on one node lately, for one model: member conversation hash, score when its last turn there started (ms). */
  affinityConversations(node: string, model: string): string {
    return `${this.prefix}:affinity-convs:{${node}}:${model}`;
  }
  /** Hash: `node|model` -> JSON ModelRates learned from final chunks. */
  get rates(): string {
    return `${this.shared}:rates`;
  }
  /** Hash: model -> JSON model stats (recent output length, prompt correction). */
  get modelStats(): string {
    return `${this.shared}:model-stats`;
  }
  /** Short-lived lock: which replica polls node health this tick. */
  get healthLock(): string {
    return `${this.shared}:lock:health`;
  }
  /** Start of BullMQ's key of one job (`<prefix>:<queue>:<id>`, a hash), read by the fair-share scripts. */
  get jobKeyPrefix(): string {
    return `${this.bullPrefix}:${this.queueName}:`;
  }
  /** Start of one tenant's fair-share queue: zset of its waiting requests (member id + model, score priority then arrival). */
  get fairQueuePrefix(): string {
    return `${this.shared}:fair:q:`;
  }
  /** Set of tenants with requests waiting in the fair-share index. */
  get fairActive(): string {
    return `${this.shared}:fair:active`;
  }
  /** Hash: tenant -> virtual token counter (service received, per weight). */
  get fairCounters(): string {
    return `${this.shared}:fair:counters`;
  }
  /** The counter of the tenant served last (where a tenant returning to an empty queue starts). */
  get fairLastServed(): string {
    return `${this.shared}:fair:last`;
  }
  /** Arrival sequence of fair-share entries, shared by replicas. */
  get fairSeq(): string {
    return `${this.shared}:fair:seq`;
  }
  /** Hash of one UTC day's usage (`YYYY-MM-DD`): `tenant|field` -> count (requests, outcomes, tokens, queue wait); expires after the retention. */
  usageDay(day: string): string {
    return `${this.shared}:usage:day:${day}`;
  }
  /** Hash of one minute's service (epoch minute): `tenant|field` -> tokens, requests, weight; kept a few minutes, for the dashboard. */
  usageMinute(minute: number): string {
    return `${this.shared}:usage:minute:${minute}`;
  }
  /** Counter for rotating strategies, shared by replicas. */
  get sequence(): string {
    return `${this.shared}:sequence`;
  }
  /** Marker that a request was cancelled by its client (checked before a grant). */
  canceled(requestId: string): string {
    return `${this.shared}:canceled:${requestId}`;
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
  /** Hash: API key id -> JSON ApiKeyRecord (never the key, never its hash). */
  get apiKeys(): string {
    return `${this.shared}:api-keys`;
  }
  /** Hash: SHA-256 of an API key -> key id: how a presented key is found (beside `apiKeys`, one slot). */
  get apiKeyHashes(): string {
    return `${this.shared}:api-key-hashes`;
  }
  /** Hash of one key's current rate window (w: window number, r: requests, t: tokens), tagged by key id like leases. */
  keyRate(keyId: string): string {
    return `${this.prefix}:key-rate:{${keyId}}`;
  }
  /** Hash of one uploaded or produced file (/v1/files): its OpenAI FileObject fields and its owner's tenant. */
  batchFile(id: string): string {
    return `${this.shared}:batch:file:${id}`;
  }
  /** String: one file's bytes (written in chunks with APPEND, read with GETRANGE). */
  batchFileContent(id: string): string {
    return `${this.shared}:batch:file-content:${id}`;
  }
  /** Zset of files by upload sequence: `all`, or `t:<tenant>` for one tenant's (listing, newest first). */
  batchFileIndex(scope: string): string {
    return `${this.shared}:batch:files:${scope}`;
  }
  /** Hash of one batch: its OpenAI Batch fields, counts, the caller it runs as, and its stop/closed marks. */
  batch(id: string): string {
    return `${this.shared}:batch:${id}`;
  }
  /** Hash of one batch's input lines: line index -> JSON {custom_id, body}. */
  batchLines(id: string): string {
    return `${this.shared}:batch:${id}:lines`;
  }
  /** Hash of one batch's results: line index -> `o` (output file) or `e` (error file) + the line's JSON; first writer wins. */
  batchResults(id: string): string {
    return `${this.shared}:batch:${id}:results`;
  }
  /** Short lock: which replica writes a closed batch's output and error files. */
  batchFinalizer(id: string): string {
    return `${this.shared}:batch:${id}:finalizer`;
  }
  /** Zset of batches by creation sequence: `all`, or `t:<tenant>` for one tenant's (listing, newest first). */
  batchIndex(scope: string): string {
    return `${this.shared}:batch:index:${scope}`;
  }
  /** Set of batches not finished yet: every replica's sweeper looks at them (expiry, cancels, finalizing). */
  get batchActive(): string {
    return `${this.shared}:batch:active`;
  }
  /** Creation sequence of batches and files (the listing order). */
  get batchSeq(): string {
    return `${this.shared}:batch:seq`;
  }
  /** Hash of one async job (/herd/jobs): route, body, caller, status, result; expires once finished. */
  job(id: string): string {
    return `${this.shared}:job:${id}`;
  }
  /**
   * The durable work queue of one lane (`batch`: batch lines, `jobs`: async jobs), shared by every replica's runner:
   * `ready` zset (member, score: not before, ms), `running` zset (member, score: lease expiry, ms), `holders` hash
   * (member -> lease token), `tries` hash (member -> failed attempts), `owners` hash (batch or job -> items running),
   * `seq` (lease tokens).
   */
  work(lane: string): { ready: string; running: string; holders: string; tries: string; owners: string; seq: string } {
    const base = `${this.shared}:work:${lane}`;
    return { ready: `${base}:ready`, running: `${base}:running`, holders: `${base}:holders`, tries: `${base}:tries`, owners: `${base}:owners`, seq: `${base}:seq` };
  }
  /** Pub/sub: an async job was canceled (message: its id); the replica running it aborts it. */
  get jobCancelChannel(): string {
    return `${this.prefix}:ch:job-cancel`;
  }
  /** Pub/sub: an API key was created, changed or revoked (message: its id); replicas drop their cached look-ups. */
  get keysChannel(): string {
    return `${this.prefix}:ch:keys`;
  }
}
