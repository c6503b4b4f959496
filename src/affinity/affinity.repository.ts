import { Inject, Injectable } from '@nestjs/common';
import { REDIS_COMMAND, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';
import { runScript } from '../redis/run-script';
import type { NodeCacheView } from '../scheduler/conversation-cache';

/**
 * A node served a request: its serving sequence goes up by one and every prefix link of the request is stored with
 * the new number (KEYS[1] the links zset, KEYS[2] the sequence; ARGV[1] ttl ms, ARGV[2] links kept, ARGV[3..] the
 * links). Both keys expire with the model's keep-alive: an unloaded model holds nothing.
 */
const SERVED = `
local seq = redis.call('INCR', KEYS[2])
local args = {}
for i = 3, #ARGV do
  table.insert(args, seq)
  table.insert(args, ARGV[i])
end
if #args > 0 then redis.call('ZADD', KEYS[1], unpack(args)) end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return seq`;

/**
 * A conversation's turn started on a node: it is now the node's most recent conversation (a slot starting it saves
 * the sequence it held, pushing the least recent one out). KEYS[1] the conversations zset; ARGV: ttl ms,
 * conversation, started at (ms), conversations kept.
 */
const STARTED = `
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[4]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 0`;

/**
 * What one node holds for one request: its sequence, when it last served each link, and how many conversations
 * started there after this one last did (KEYS: links zset, sequence, conversations zset; ARGV: conversation, links...).
 */
const LOOKUP = `
local seq = redis.call('GET', KEYS[2])
if not seq then return false end
local scores = {}
if #ARGV > 1 then scores = redis.call('ZMSCORE', KEYS[1], unpack(ARGV, 2)) end
return {seq, scores, redis.call('ZREVRANK', KEYS[3], ARGV[1])}`;

type LookupReply = [string, (string | null)[], number | null] | null;

/**
 * Which prompt prefixes and conversations each node served lately, per model, shared by every replica. The keys
 * of one node carry its name as hash tag (like its leases), so on a Redis Cluster nodes spread over the slots.
 */
@Injectable()
export class AffinityRepository {
  constructor(
    @Inject(REDIS_COMMAND) private readonly redis: RedisLike,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('herdAffinityServed', { numberOfKeys: 2, lua: SERVED });
    redis.defineCommand('herdAffinityStarted', { numberOfKeys: 1, lua: STARTED });
    redis.defineCommand('herdAffinityLookup', { numberOfKeys: 3, lua: LOOKUP });
  }

  /** Records that `node` served a request whose prompt is `links`; keeps the newest `keep` links. */
  async served(node: string, model: string, links: string[], ttlMs: number, keep: number): Promise<void> {
    await runScript(this.redis, 'herdAffinityServed', this.keys.affinityLinks(node, model), this.keys.affinitySeq(node, model), ttlMs, keep, ...links);
  }

  /** Records that a turn of `conversation` started on `node`; keeps the newest `keep` conversations. */
  async started(node: string, model: string, conversation: string, startedAt: number, ttlMs: number, keep: number): Promise<void> {
    await runScript(this.redis, 'herdAffinityStarted', this.keys.affinityConversations(node, model), ttlMs, conversation, Math.round(startedAt), keep);
  }

  /** Each node's view for one request (one script per node, sent together; a node that fails is left out). */
  async lookup(model: string, nodes: readonly string[], conversation: string, links: readonly string[]): Promise<Map<string, NodeCacheView>> {
    const out = new Map<string, NodeCacheView>();
    if (nodes.length === 0 || links.length === 0) return out;
    const replies = await Promise.all(
      nodes.map(
        (node) =>
          runScript(
            this.redis,
            'herdAffinityLookup',
            this.keys.affinityLinks(node, model),
            this.keys.affinitySeq(node, model),
            this.keys.affinityConversations(node, model),
            conversation,
            ...links,
          ).catch(() => null) as Promise<LookupReply>,
      ),
    );
    nodes.forEach((node, i) => {
      const reply = replies[i];
      if (!reply) return;
      const [seq, scores, rank] = reply;
      const view: NodeCacheView = { seq: Number(seq), lastServed: (scores ?? []).map((s) => (s === null || s === undefined ? null : Number(s))) };
      if (rank !== null && rank !== undefined) view.rank = Number(rank);
      out.set(node, view);
    });
    return out;
  }
}
