import type { StrategyName } from '../scheduler/scheduler.types';

/** One Ollama server as configured in containers.config.json. */
export interface NodeConfig {
  name: string;
  url: string;
  slots: number;
  weight: number;
  memoryGb?: number;
  tokensPerSecond?: number;
  labels: Record<string, string>;
  /** Set at runtime through the admin API: no new work, running requests finish. */
  draining?: boolean;
  /** Joined through POST /herd/nodes/heartbeat: marked down when heartbeats stop, removed after a grace period. */
  selfRegistered?: boolean;
}

export type LogFormat = 'json' | 'pretty';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** Everything Herd reads from the environment and containers.config.json, validated once at start. */
export interface HerdConfig {
  port: number;
  host: string;
  /** Undefined (and no cluster) means: start an embedded redis-server. */
  redisUrl?: string;
  /** Seed nodes of a Redis Cluster; when set, Herd uses the cluster and redisUrl is undefined. */
  redisClusterNodes?: { host: string; port: number }[];
  redisPrefix: string;
  containersConfigPath: string;
  nodes: NodeConfig[];
  strategy: StrategyName;
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
  logLevel: LogLevel;
  logFormat: LogFormat;
  replicaId: string;
  /** When set, admin routes need `Authorization: Bearer <key>`. */
  adminKey?: string;
}

export const HERD_CONFIG = Symbol('HERD_CONFIG');
