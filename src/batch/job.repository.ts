import { Inject, Injectable } from '@nestjs/common';
import { REDIS_COMMAND, REDIS_SUBSCRIBER, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';
import { runScript } from '../redis/run-script';
import type { Claim } from './work.repository';
import { LUA_COMMON } from './work-scripts';

/** A new job (KEYS[1]) and its place in the jobs lane (KEYS[2]), together. */
const SUBMIT = `${LUA_COMMON}
local fields = cjson.decode(ARGV[1])
for k, v in pairs(fields) do redis.call('HSET', KEYS[1], k, v) end
redis.call('HSET', KEYS[1], 'status', 'queued', 'created_at', nowSec)
redis.call('ZADD', KEYS[2], ms(now), ARGV[2])
return 1`;

/** queued -> running when a runner takes it; answers the status after ('missing' when it expired or never was). */
const START = `${LUA_COMMON}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', nowSec)
  return 'running'
end
return status`;

/** The job's end (unless it was canceled meanwhile) and its claim let go; the job expires ARGV[6] ms later. */
const FINISH = `${LUA_COMMON}
local status = redis.call('HGET', KEYS[1], 'status')
local written = 0
if status == 'queued' or status == 'running' then
  redis.call('HSET', KEYS[1], 'status', ARGV[3], ARGV[4], ARGV[5], 'finished_at', nowSec)
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  written = 1
end
release(KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2], true)
return written`;

/** queued or running -> canceled (a queued job leaves the lane at once); answers the status before. */
const CANCEL = `${LUA_COMMON}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'queued' or status == 'running' then
  redis.call('HSET', KEYS[1], 'status', 'canceled', 'finished_at', nowSec)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  if status == 'queued' then
    redis.call('ZREM', KEYS[2], ARGV[1])
    redis.call('HDEL', KEYS[3], ARGV[1])
  end
end
return status`;

/** Async jobs (/herd/jobs) in Redis: one hash per job, run through the `jobs` work lane. */
@Injectable()
export class JobRepository {
  constructor(
    @Inject(REDIS_COMMAND) private readonly redis: RedisLike,
    @Inject(REDIS_SUBSCRIBER) private readonly subscriber: RedisLike,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('herdJobSubmit', { numberOfKeys: 2, lua: SUBMIT });
    redis.defineCommand('herdJobStart', { numberOfKeys: 1, lua: START });
    redis.defineCommand('herdJobFinish', { numberOfKeys: 5, lua: FINISH });
    redis.defineCommand('herdJobCancel', { numberOfKeys: 3, lua: CANCEL });
  }

  async submit(id: string, fields: Record<string, string>): Promise<void> {
    await runScript(this.redis, 'herdJobSubmit', this.keys.job(id), this.keys.work('jobs').ready, JSON.stringify(fields), id);
  }

  async get(id: string): Promise<Record<string, string> | undefined> {
    const job = await this.redis.hgetall(this.keys.job(id));
    return job.id ? job : undefined;
  }

  async start(id: string): Promise<string> {
    return String(await runScript(this.redis, 'herdJobStart', this.keys.job(id)));
  }

  /** Writes the end of a job still queued or running (`field`: result or error, as JSON); false when it was canceled. */
  async finish(claim: Claim, id: string, status: 'completed' | 'failed', field: 'result' | 'error', json: string, ttlMs: number): Promise<boolean> {
    const w = this.keys.work('jobs');
    return (await runScript(this.redis, 'herdJobFinish', this.keys.job(id), w.running, w.holders, w.tries, w.owners, claim.member, claim.token, status, field, json, ttlMs)) === 1;
  }

  async cancel(id: string, ttlMs: number): Promise<string> {
    const w = this.keys.work('jobs');
    const before = String(await runScript(this.redis, 'herdJobCancel', this.keys.job(id), w.ready, w.tries, id, ttlMs));
    if (before === 'running') await this.redis.publish(this.keys.jobCancelChannel, id);
    return before;
  }

  /** Calls `fn` with the id of every job canceled anywhere while it runs; resolves once subscribed. */
  async onCanceled(fn: (id: string) => void): Promise<void> {
    const channel = this.keys.jobCancelChannel;
    this.subscriber.on('message', (ch: string, id: string) => {
      if (ch === channel) fn(id);
    });
    await this.subscriber.subscribe(channel);
  }
}
