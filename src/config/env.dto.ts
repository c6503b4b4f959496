import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, ValidateBy } from 'class-validator';
import { Type } from 'class-transformer';
import { NODE_URL_ALLOW_FORMAT, parseNodeUrlAllow } from '../security/node-url-allow';

const STRATEGIES = ['ect', 'least-connections', 'round-robin', 'weighted-round-robin', 'random'];

/** HERD_NODE_URL_ALLOW: every entry must parse; the message names each bad one. */
function IsNodeUrlAllowList(): PropertyDecorator {
  return ValidateBy({
    name: 'isNodeUrlAllowList',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && parseNodeUrlAllow(value).problems.length === 0,
      defaultMessage: (args) =>
        `HERD_NODE_URL_ALLOW must be ${NODE_URL_ALLOW_FORMAT}${typeof args?.value === 'string' ? `; ${parseNodeUrlAllow(args.value).problems.join('; ')}` : ''}`,
    },
  });
}

/** The environment Herd understands; every variable is documented in .env.example. */
export class HerdEnv {
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(65535)
  PORT?: number;

  @IsOptional() @IsString()
  HOST?: string;

  @IsOptional() @Matches(/^rediss?:\/\/.+/, { message: 'REDIS_URL must look like redis://host:6379 or rediss://…' })
  REDIS_URL?: string;

  @IsOptional() @IsString()
  REDIS_HOST?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(65535)
  REDIS_PORT?: number;

  @IsOptional() @Matches(/^\s*[^\s,:]+:\d{1,5}\s*(,\s*[^\s,:]+:\d{1,5}\s*)*$/, { message: 'REDIS_CLUSTER_NODES must look like host1:6379,host2:6379 (seed nodes of the cluster)' })
  REDIS_CLUSTER_NODES?: string;

  @IsOptional() @Matches(/^[A-Za-z0-9_-]{1,32}$/, { message: 'HERD_REDIS_PREFIX must be 1-32 letters, digits, _ or -' })
  HERD_REDIS_PREFIX?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(50) @Max(60_000)
  HERD_REDIS_COMMAND_TIMEOUT_MS?: number;

  @IsOptional() @IsString()
  CONTAINERS_CONFIG?: string;

  @IsOptional() @IsIn(STRATEGIES, { message: `HERD_STRATEGY must be one of ${STRATEGIES.join(', ')}` })
  HERD_STRATEGY?: string;

  @IsOptional() @IsIn(['off', 'keys'], { message: 'HERD_AUTH must be off or keys' })
  HERD_AUTH?: string;

  @IsOptional() @IsIn(['on', 'off'], { message: 'HERD_FAIR_SHARE must be on or off' })
  HERD_FAIR_SHARE?: string;

  @IsOptional() @IsIn(['on', 'off'], { message: 'HERD_FAIR_RESERVE must be on or off' })
  HERD_FAIR_RESERVE?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1000) @Max(3_600_000)
  HERD_FAIR_RESERVE_WINDOW_MS?: number;

  @IsOptional() @IsIn(['on', 'off'], { message: 'HERD_AFFINITY must be on or off' })
  HERD_AFFINITY?: string;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1000) @Max(86_400_000)
  HERD_AFFINITY_TTL_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(100_000)
  HERD_BATCH_MAX_RUNNING?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(1000)
  HERD_BATCH_KEEP_FASTEST?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1_000_000)
  HERD_BATCH_MAX_LINES?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1024) @Max(1_073_741_824)
  HERD_BATCH_MAX_FILE_BYTES?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1000) @Max(2_592_000_000)
  HERD_JOB_RESULT_TTL_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(100)
  HERD_HEALTH_INTERVAL_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(10)
  HERD_CONNECT_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(10)
  HERD_FIRST_BYTE_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(10)
  HERD_IDLE_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(10)
  HERD_REQUEST_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(10)
  HERD_QUEUE_TIMEOUT_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1)
  HERD_MAX_QUEUE?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(10)
  HERD_MAX_RETRIES?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1000)
  HERD_LEASE_MS?: number;

  @IsOptional() @Type(() => Number) @IsInt() @Min(1000)
  HERD_HEARTBEAT_GRACE_MS?: number;

  @IsOptional() @Matches(/^\d+(b|kb|mb|gb)$/i, { message: 'HERD_BODY_LIMIT must look like 50mb' })
  HERD_BODY_LIMIT?: string;

  @IsOptional() @Matches(/^\d+(b|kb|mb|gb)$/i, { message: 'HERD_MAX_QUEUED_BYTES must look like 256mb' })
  HERD_MAX_QUEUED_BYTES?: string;

  @IsOptional() @IsIn(['error', 'warn', 'info', 'debug'])
  LOG_LEVEL?: string;

  @IsOptional() @IsIn(['json', 'pretty'])
  LOG_FORMAT?: string;

  @IsOptional() @IsString() @Matches(/^.{8,}$/, { message: 'HERD_ADMIN_KEY must be at least 8 characters' })
  HERD_ADMIN_KEY?: string;

  @IsOptional() @IsString() @Matches(/^.{8,}$/, { message: 'HERD_NODE_KEY must be at least 8 characters' })
  HERD_NODE_KEY?: string;

  @IsOptional() @IsNodeUrlAllowList()
  HERD_NODE_URL_ALLOW?: string;

  @IsOptional() @Matches(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'HERD_REPLICA_ID must be 1-64 letters, digits, _ . or -' })
  HERD_REPLICA_ID?: string;
}
