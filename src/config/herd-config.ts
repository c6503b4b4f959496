import type { LogFormat, LogLevel } from '../common/logger';
import type { StrategyName } from '../scheduler/scheduler.types';
import type { NodeUrlAllow } from '../security/node-url-allow';

/** One Ollama server as configured in containers.config.json. */
export interface NodeConfig {
  name: string;
  url: string;
  slots: number;
  weight: number;
  memoryGb?: number;
  tokensPerSecond?: number;
  /** Prompt sequences the node keeps in host RAM besides its slots (llama.cpp --cache-ram; 0 or unset: slots only). */
  promptCacheEntries?: number;
  labels: Record<string, string>;
  /** Set at runtime through the admin API: no new work, running requests finish. */
  draining?: boolean;
  /** Joined through POST /herd/nodes/heartbeat: marked down when heartbeats stop, removed after a grace period. */
  selfRegistered?: boolean;
}


/** Everything Herd reads from the environment and containers.config.json, validated once at start. */
export interface HerdConfig {
  port: number;
  host: string;
  /** Undefined (and no cluster) means: start an embedded redis-server. */
  redisUrl?: string;
  /** Seed nodes of a Redis Cluster; when set, Herd uses the cluster and redisUrl is undefined. */
  redisClusterNodes?: { host: string; port: number }[];
  redisPrefix: string;
  /**
   * Longest wait for any one Redis answer. A Redis that stops answering without closing its sockets (paused,
   * overloaded) then costs a request at most this long, and this replica answers its waiting requests 503.
   */
  redisCommandTimeoutMs: number;
  containersConfigPath: string;
  nodes: NodeConfig[];
  strategy: StrategyName;
  /** `keys`: every inference route needs an API key from /herd/keys; `off` (default): open, tenant from X-Herd-Tenant. */
  auth: 'off' | 'keys';
  /** Among waiting jobs of one priority, the next slot goes to the tenant served least per weight (default on). */
  fairShare: boolean;
  /**
   * With fair share: while requests wait, a tenant with a request running may not take the last free slot of a
   * model's fastest node when another tenant is quiet (admitted a request within the window, at most one running or
   * waiting); ADR 006.
   */
  fairReserve: boolean;
  /** How long after its last admitted request a tenant counts as quiet (still around) for the fair reserve. */
  fairReserveWindowMs: number;
  /** Conversation affinity: ECT counts the prompt prefix a node probably still holds (opt-in, ect only; ADR 007). */
  affinity: boolean;
  /** How long a node is assumed to keep a prompt warm after serving it (Ollama's default keep-alive: 5 min). */
  affinityTtlMs: number;
  /** Batch lane (ADR 008): most batch lines running at once across all replicas; 0 = half the fleet's slots, at least 1. */
  batchMaxRunning: number;
  /** Batch lane: how many of a model's fastest nodes batch work never takes (kept free for interactive requests). */
  batchKeepFastest: number;
  /** Most lines in one batch input file. */
  batchMaxLines: number;
  /** Largest file accepted by POST /v1/files, in bytes. */
  batchMaxFileBytes: number;
  /** How long a finished async job's result (/herd/jobs) is kept. */
  jobResultTtlMs: number;
  healthIntervalMs: number;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  requestTimeoutMs: number;
  queueTimeoutMs: number;
  maxQueue: number;
  maxRetries: number;
  leaseMs: number;
  /** A self-registered node silent this long is removed from the fleet. */
  heartbeatGraceMs: number;
  bodyLimit: string;
  /** Bodies of requests waiting in this replica's queue, in bytes at most; beyond, new requests get 503. */
  maxQueuedBytes: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  replicaId: string;
  /** When set, admin routes need `Authorization: Bearer <key>`; unset, they are open only on a loopback `host`. */
  adminKey?: string;
  /** When set, POST /herd/nodes/heartbeat needs `Authorization: Bearer <key>` (not the admin key); unset, loopback only. */
  nodeKey?: string;
  /** When set, node URLs registered through POST /herd/nodes or a heartbeat must be inside it (HERD_NODE_URL_ALLOW). */
  nodeUrlAllow?: NodeUrlAllow;
}

export const HERD_CONFIG = Symbol('HERD_CONFIG');
