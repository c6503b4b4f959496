import { Inject, Injectable } from '@nestjs/common';
import { REDIS_COMMAND, REDIS_SUBSCRIBER, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';
import { runScript } from '../redis/run-script';
import { parseStoredKey, type ApiKeyRecord } from './api-key';

/** KEYS: hash index, records; ARGV[1]: a key's hash. The record of the key with that hash, in one round trip. */
const FIND_BY_HASH = `
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return false end
return redis.call('HGET', KEYS[2], id)`;

/**
 * KEYS[1]: records; ARGV: id, new JSON. Rewrites a record unless it is gone (0) or revoked (-1): a change read
 * before a revocation and written after it must not bring the key back.
 */
const UPDATE = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local ok, record = pcall(cjson.decode, current)
if ok and type(record) == 'table' and record.revokedAt then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

export type UpdateResult = 'updated' | 'missing' | 'revoked';

/**
 * API keys in Redis: records by id, and an index from each key's SHA-256 to its id (the key itself is never
 * stored). Every change is announced on a channel so that every replica drops its cached look-ups at once.
 */
@Injectable()
export class ApiKeyRepository {
  constructor(
    @Inject(REDIS_COMMAND) private readonly redis: RedisLike,
    @Inject(REDIS_SUBSCRIBER) private readonly subscriber: RedisLike,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('herdFindKeyByHash', { numberOfKeys: 2, lua: FIND_BY_HASH });
    redis.defineCommand('herdUpdateKey', { numberOfKeys: 1, lua: UPDATE });
  }

  private call(name: string, ...args: (string | number)[]): Promise<unknown> {
    return runScript(this.redis, name, ...args);
  }

  async insert(record: ApiKeyRecord, hash: string): Promise<void> {
    const results = await this.redis.multi().hset(this.keys.apiKeys, record.id, JSON.stringify(record)).hset(this.keys.apiKeyHashes, hash, record.id).exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('API key not stored (transaction discarded)');
    await this.announce(record.id);
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    return parseStoredKey((await this.call('herdFindKeyByHash', this.keys.apiKeyHashes, this.keys.apiKeys, hash)) as string | null);
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    return parseStoredKey(await this.redis.hget(this.keys.apiKeys, id));
  }

  /** Every readable record (a corrupt entry is left out). */
  async list(): Promise<ApiKeyRecord[]> {
    const all = await this.redis.hgetall(this.keys.apiKeys);
    return Object.values(all).flatMap((raw) => parseStoredKey(raw) ?? []);
  }

  /** Rewrites an active key's record (see UPDATE). */
  async update(record: ApiKeyRecord): Promise<UpdateResult> {
    const result = await this.call('herdUpdateKey', this.keys.apiKeys, record.id, JSON.stringify(record));
    if (result === 1) await this.announce(record.id);
    return result === 1 ? 'updated' : result === -1 ? 'revoked' : 'missing';
  }

  /** Writes a revoked record; the hash index stays, so the key is still recognised, and refused, as revoked. */
  async saveRevoked(record: ApiKeyRecord): Promise<void> {
    await this.redis.hset(this.keys.apiKeys, record.id, JSON.stringify(record));
    await this.announce(record.id);
  }

  /** Calls `fn` whenever any replica changed a key (its id); resolves once subscribed. */
  async onChange(fn: (keyId: string) => void): Promise<void> {
    const channel = this.keys.keysChannel;
    this.subscriber.on('message', (ch: string, id: string) => {
      if (ch === channel) fn(id);
    });
    await this.subscriber.subscribe(channel);
  }

  private async announce(id: string): Promise<void> {
    await this.redis.publish(this.keys.keysChannel, id);
  }
}
