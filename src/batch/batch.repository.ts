import { Inject, Injectable } from '@nestjs/common';
import { REDIS_COMMAND, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';
import { runScript } from '../redis/run-script';
import { lineMember } from './batch-ids';
import type { Claim } from './work.repository';
import { LUA_COMMON } from './work-scripts';

/**
 * Whether a batch is done taking results, decided atomically beside the write that may end it. A batch closes when
 * every line has a result (closed = completed, status finalizing), or when it was stopped (cancel, or its window
 * passed: expiry is noticed here) and none of its lines is running any more (closed = cancelled | expired). No
 * result is accepted once it is closed, so the files written from its results are final.
 * Answers 'closed', 'stopped' (expiry just noticed), 'open', or the status of a batch not running.
 */
const LUA_ADVANCE = `
local function advance(meta, results, owners, id)
  if redis.call('EXISTS', meta) == 0 then return 'missing' end
  if redis.call('HGET', meta, 'closed') then return 'closed' end
  local status = redis.call('HGET', meta, 'status')
  if status ~= 'in_progress' and status ~= 'cancelling' then return status end
  local stop = redis.call('HGET', meta, 'stop')
  if not stop and redis.call('HLEN', results) >= tonumber(redis.call('HGET', meta, 'total')) then
    redis.call('HSET', meta, 'closed', 'completed', 'status', 'finalizing', 'finalizing_at', nowSec)
    return 'closed'
  end
  local state = 'open'
  if not stop and now >= tonumber(redis.call('HGET', meta, 'expires_at_ms') or '0') then
    redis.call('HSET', meta, 'stop', 'expired')
    stop = 'expired'
    state = 'stopped'
  end
  if stop and tonumber(redis.call('HGET', owners, id) or '0') <= 0 then
    redis.call('HSET', meta, 'closed', stop)
    return 'closed'
  end
  return state
end
`;

/** Creates the batch (KEYS[1]) from validated lines already stored, and queues every line, in order. */
const OPEN = `${LUA_COMMON}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local fields = cjson.decode(ARGV[10])
for k, v in pairs(fields) do redis.call('HSET', KEYS[1], k, v) end
local total = tonumber(ARGV[8])
local window = tonumber(ARGV[9])
redis.call('HSET', KEYS[1], 'id', ARGV[7], 'status', 'in_progress', 'created_at', nowSec, 'in_progress_at', nowSec,
  'expires_at', nowSec + window, 'expires_at_ms', ms(now + window * 1000), 'total', total, 'completed', 0, 'failed', 0)
redis.call('PERSIST', ARGV[5])
redis.call('SADD', ARGV[1], ARGV[7])
local seq = redis.call('INCR', ARGV[4])
redis.call('ZADD', ARGV[2], seq, ARGV[7])
redis.call('ZADD', ARGV[3], seq, ARGV[7])
local batch = {}
for i = 0, total - 1 do
  table.insert(batch, ms(now))
  table.insert(batch, string.format('%s:%09d', ARGV[7], i))
  if #batch >= 1000 then
    redis.call('ZADD', ARGV[6], unpack(batch))
    batch = {}
  end
end
if #batch > 0 then redis.call('ZADD', ARGV[6], unpack(batch)) end
return 1`;

/** A line's result, first writer wins, and its claim let go, in one step; then whether the batch closed. */
const COMPLETE_LINE = `${LUA_COMMON}${LUA_ADVANCE}
local written = 0
if redis.call('EXISTS', KEYS[1]) == 1 and not redis.call('HGET', KEYS[1], 'closed') then
  if redis.call('HSETNX', KEYS[2], ARGV[3], ARGV[4]) == 1 then
    written = 1
    redis.call('HINCRBY', KEYS[1], string.sub(ARGV[4], 1, 1) == 'o' and 'completed' or 'failed', 1)
  end
end
release(KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[1], ARGV[2], true)
return { written, advance(KEYS[1], KEYS[2], KEYS[6], ARGV[5]) }`;

/** A claimed line that must not run (its batch stopped or is gone): let go, then whether the batch closed. */
const DROP_LINE = `${LUA_COMMON}${LUA_ADVANCE}
release(KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[1], ARGV[2], true)
return advance(KEYS[1], KEYS[2], KEYS[6], ARGV[3])`;

const ADVANCE = `${LUA_COMMON}${LUA_ADVANCE}
return advance(KEYS[1], KEYS[2], KEYS[3], ARGV[1])`;

/** validating or in_progress -> cancelling (no new line starts); answers the status after. */
const CANCEL = `${LUA_COMMON}${LUA_ADVANCE}
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local status = redis.call('HGET', KEYS[1], 'status')
if (status == 'in_progress' or status == 'validating') and not redis.call('HGET', KEYS[1], 'closed') then
  redis.call('HSET', KEYS[1], 'status', 'cancelling', 'cancelling_at', nowSec)
  if not redis.call('HGET', KEYS[1], 'stop') then redis.call('HSET', KEYS[1], 'stop', 'cancelled') end
end
advance(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
return redis.call('HGET', KEYS[1], 'status')`;

/**
 * The end of a closed batch, once: its output and error files (content written beforehand under temporary keys,
 * renamed here) and its final status, counts and time. 0 when another finalizer sealed it first (the caller then
 * deletes its temporary keys).
 */
const SEAL = `${LUA_COMMON}
local closed = redis.call('HGET', KEYS[1], 'closed')
local status = redis.call('HGET', KEYS[1], 'status')
if not closed or status == 'completed' or status == 'cancelled' or status == 'expired' or status == 'failed' then return 0 end
local tenant = redis.call('HGET', KEYS[1], 'tenant') or ''
local function file(base)
  local id = ARGV[base]
  if id == '' then return '' end
  redis.call('RENAME', ARGV[base + 1], ARGV[base + 2])
  redis.call('HSET', ARGV[base + 3], 'id', id, 'bytes', ARGV[base + 5], 'created_at', nowSec, 'filename', ARGV[base + 4], 'purpose', 'batch_output', 'tenant', tenant)
  local seq = redis.call('INCR', ARGV[7])
  redis.call('ZADD', ARGV[5], seq, id)
  redis.call('ZADD', ARGV[6], seq, id)
  return id
end
local out = file(8)
local err = file(14)
redis.call('HSET', KEYS[1], 'status', closed, closed .. '_at', nowSec, 'output_file_id', out, 'error_file_id', err, 'completed', ARGV[3], 'failed', ARGV[4])
redis.call('SREM', ARGV[1], ARGV[2])
return 1`;

/** Content is written and read in pieces this big, so no single command outlasts the command timeout. */
const CHUNK_BYTES = 1024 * 1024;
/** Lines of a batch being created expire unless the batch opens (a replica that died while creating it). */
const UNOPENED_LINES_TTL_MS = 3_600_000;

/** 'closed', 'stopped' (expiry just noticed), 'open', or the status of a batch that is not running. */
export type AdvanceState = string;

/** A produced file, for SEAL: its id and name, and where its content waits. */
export interface SealedFile {
  id: string;
  filename: string;
  tmpKey: string;
  bytes: number;
}

/** What a runner needs to run one line. */
export interface LineContext {
  status?: string;
  stop?: string;
  closed?: string;
  endpoint?: string;
  caller?: string;
  /** JSON {custom_id, body}; undefined when the line (or the batch) is gone. */
  line?: string;
}

/** Batches and their files in Redis (see RedisKeys: batchFile, batch, batchLines, batchResults, ...). */
@Injectable()
export class BatchRepository {
  constructor(
    @Inject(REDIS_COMMAND) private readonly redis: RedisLike,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('herdBatchOpen', { numberOfKeys: 1, lua: OPEN });
    redis.defineCommand('herdBatchCompleteLine', { numberOfKeys: 6, lua: COMPLETE_LINE });
    redis.defineCommand('herdBatchDropLine', { numberOfKeys: 6, lua: DROP_LINE });
    redis.defineCommand('herdBatchAdvance', { numberOfKeys: 3, lua: ADVANCE });
    redis.defineCommand('herdBatchCancel', { numberOfKeys: 3, lua: CANCEL });
    redis.defineCommand('herdBatchSeal', { numberOfKeys: 1, lua: SEAL });
  }

  // ---- files

  /** Writes `content` under `key` in pieces (SET then APPEND). */
  async writeContent(key: string, content: Buffer): Promise<void> {
    await this.redis.set(key, content.subarray(0, CHUNK_BYTES));
    for (let at = CHUNK_BYTES; at < content.length; at += CHUNK_BYTES) await this.redis.append(key, content.subarray(at, at + CHUNK_BYTES));
  }

  /** Stores an uploaded file: content first, then its record and index entries (the record makes it visible). */
  async saveFile(meta: Record<string, string>, content: Buffer): Promise<void> {
    const id = meta.id;
    await this.writeContent(this.keys.batchFileContent(id), content);
    const seq = await this.redis.incr(this.keys.batchSeq);
    await this.redis
      .multi()
      .hset(this.keys.batchFile(id), meta)
      .zadd(this.keys.batchFileIndex('all'), seq, id)
      .zadd(this.keys.batchFileIndex(`t:${meta.tenant}`), seq, id)
      .exec();
  }

  async fileMeta(id: string): Promise<Record<string, string> | undefined> {
    const meta = await this.redis.hgetall(this.keys.batchFile(id));
    return meta.id ? meta : undefined;
  }

  /** A file's bytes, piece by piece. */
  async *fileContent(id: string): AsyncGenerator<Buffer> {
    const key = this.keys.batchFileContent(id);
    for (let at = 0; ; at += CHUNK_BYTES) {
      const piece = await this.redis.getrangeBuffer(key, at, at + CHUNK_BYTES - 1);
      if (piece.length > 0) yield piece;
      if (piece.length < CHUNK_BYTES) return;
    }
  }

  async deleteFile(id: string, tenant: string): Promise<void> {
    await this.redis
      .multi()
      .del(this.keys.batchFile(id), this.keys.batchFileContent(id))
      .zrem(this.keys.batchFileIndex('all'), id)
      .zrem(this.keys.batchFileIndex(`t:${tenant}`), id)
      .exec();
  }

  /** Ids of a list scope, newest first, after the id `after` (exclusive): up to `limit` + 1 (to tell has_more). */
  async page(index: string, after: string | undefined, limit: number): Promise<string[]> {
    let max = '+inf';
    if (after !== undefined) {
      const score = await this.redis.zscore(index, after);
      if (score === null) return [];
      max = `(${score}`;
    }
    return this.redis.zrevrangebyscore(index, max, '-inf', 'LIMIT', 0, limit + 1);
  }

  // ---- batches

  /** Stores a new batch's lines (JSON {custom_id, body} by index) before it opens; they expire if it never does. */
  async storeLines(batchId: string, lines: string[]): Promise<void> {
    const key = this.keys.batchLines(batchId);
    for (let i = 0; i < lines.length; i += 500) {
      const fields: Record<string, string> = {};
      for (let j = i; j < Math.min(lines.length, i + 500); j++) fields[String(j)] = lines[j];
      await this.redis.multi().hset(key, fields).pexpire(key, UNOPENED_LINES_TTL_MS).exec();
    }
  }

  async open(batchId: string, tenant: string, total: number, windowSeconds: number, fields: Record<string, string>): Promise<void> {
    const k = this.keys;
    await runScript(this.redis, 'herdBatchOpen', k.batch(batchId), k.batchActive, k.batchIndex('all'), k.batchIndex(`t:${tenant}`), k.batchSeq, k.batchLines(batchId), k.work('batch').ready, batchId, total, windowSeconds, JSON.stringify(fields));
  }

  async batchMeta(id: string): Promise<Record<string, string> | undefined> {
    const meta = await this.redis.hgetall(this.keys.batch(id));
    return meta.id ? meta : undefined;
  }

  async lineContext(batchId: string, index: number): Promise<LineContext> {
    const [meta, line] = await Promise.all([this.redis.hmget(this.keys.batch(batchId), 'status', 'stop', 'closed', 'endpoint', 'caller'), this.redis.hget(this.keys.batchLines(batchId), String(index))]);
    const [status, stop, closed, endpoint, caller] = meta.map((v) => v ?? undefined);
    return { status, stop, closed, endpoint, caller, line: line ?? undefined };
  }

  async completeLine(claim: Claim, batchId: string, index: number, stored: string): Promise<{ written: boolean; state: AdvanceState }> {
    const k = this.keys;
    const w = k.work('batch');
    const out = (await runScript(this.redis, 'herdBatchCompleteLine', k.batch(batchId), k.batchResults(batchId), w.running, w.holders, w.tries, w.owners, claim.member, claim.token, index, stored, batchId)) as [number, string];
    return { written: Number(out[0]) === 1, state: String(out[1]) };
  }

  async dropLine(claim: Claim, batchId: string): Promise<AdvanceState> {
    const k = this.keys;
    const w = k.work('batch');
    return String(await runScript(this.redis, 'herdBatchDropLine', k.batch(batchId), k.batchResults(batchId), w.running, w.holders, w.tries, w.owners, claim.member, claim.token, batchId));
  }

  async advance(batchId: string): Promise<AdvanceState> {
    const k = this.keys;
    return String(await runScript(this.redis, 'herdBatchAdvance', k.batch(batchId), k.batchResults(batchId), k.work('batch').owners, batchId));
  }

  /** Answers the status after (or 'missing'). */
  async cancel(batchId: string): Promise<string> {
    const k = this.keys;
    return String(await runScript(this.redis, 'herdBatchCancel', k.batch(batchId), k.batchResults(batchId), k.work('batch').owners, batchId));
  }

  /** The members of a batch's lines that have no result yet (to withdraw them from the queue). */
  async unfinishedMembers(batchId: string, total: number): Promise<string[]> {
    const done = new Set(await this.redis.hkeys(this.keys.batchResults(batchId)));
    const members: string[] = [];
    for (let i = 0; i < total; i++) if (!done.has(String(i))) members.push(lineMember(batchId, i));
    return members;
  }

  async results(batchId: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.batchResults(batchId));
  }

  async lines(batchId: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.batchLines(batchId));
  }

  /** One finalizer per batch at a time (a finalizer that dies frees it after `ms`). */
  async lockFinalizer(batchId: string, owner: string, ms: number): Promise<boolean> {
    return (await this.redis.set(this.keys.batchFinalizer(batchId), owner, 'PX', ms, 'NX')) === 'OK';
  }

  async unlockFinalizer(batchId: string): Promise<void> {
    await this.redis.del(this.keys.batchFinalizer(batchId));
  }

  /** A temporary key for a produced file's content, in the batch's slot. */
  tempContentKey(fileId: string, owner: string): string {
    return `${this.keys.batchFileContent(fileId)}:tmp:${owner}`;
  }

  async seal(batchId: string, tenant: string, counts: { completed: number; failed: number }, output: SealedFile | undefined, errors: SealedFile | undefined): Promise<boolean> {
    const k = this.keys;
    const fileArgs = (f: SealedFile | undefined): (string | number)[] => (f ? [f.id, f.tmpKey, k.batchFileContent(f.id), k.batchFile(f.id), f.filename, f.bytes] : ['', '', '', '', '', 0]);
    const sealed = await runScript(this.redis, 'herdBatchSeal', k.batch(batchId), k.batchActive, batchId, counts.completed, counts.failed, k.batchFileIndex('all'), k.batchFileIndex(`t:${tenant}`), k.batchSeq, ...fileArgs(output), ...fileArgs(errors));
    return sealed === 1;
  }

  async deleteKeys(...keys: string[]): Promise<void> {
    if (keys.length > 0) await this.redis.del(...keys);
  }

  /** A sealed batch's lines and results are in its files now. */
  async dropWorkingSet(batchId: string): Promise<void> {
    await this.redis.del(this.keys.batchLines(batchId), this.keys.batchResults(batchId));
  }

  async activeBatches(): Promise<string[]> {
    return this.redis.smembers(this.keys.batchActive);
  }

  batchIndexKey(scope: string): string {
    return this.keys.batchIndex(scope);
  }

  fileIndexKey(scope: string): string {
    return this.keys.batchFileIndex(scope);
  }
}
