import { Inject, Injectable } from '@nestjs/common';
import { REDIS_COMMAND, type RedisLike } from '../redis/redis-connections';
import { RedisKeys } from '../redis/redis-keys';
import { runScript } from '../redis/run-script';

/**
 * One node's serving sequence goes up by one per request it served for the model; every prefix link of that
 * request is stored with the new number (KEYS[1] the links zset, KEYS[2] the sequence; ARGV[1] ttl ms, ARGV[2]
 * links kept, ARGV[3..] the links). Both keys expire with the model's keep-alive: an unloaded model holds nothing.
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

/** What one node served of a chain: its sequence now, and for each link the sequence it was last served at. */
export interface ServedLinks {
  seq: number;
  lastServed: (number | null)[];
}

/**
 * Which prompt prefixes each node served lately, per model, shared by every replica. The keys of one node carry
 * its name as hash tag (like its leases), so on a Redis Cluster nodes spread over the slots.
 */
@Injectable()
export class AffinityRepository {
  constructor(
    @Inject(REDIS_COMMAND) private readonly redis: RedisLike,
    private readonly keys: RedisKeys,
  ) {
    redis.defineCommand('herdAffinityServed', { numberOfKeys: 2, lua: SERVED });
  }

  /** Records that `node` served a request whose prompt is `links`; keeps the newest `keep` links. */
  async served(node: string, model: string, links: string[], ttlMs: number, keep: number): Promise<void> {
    await runScript(this.redis, 'herdAffinityServed', this.keys.affinityLinks(node, model), this.keys.affinitySeq(node, model), ttlMs, keep, ...links);
  }

  /** For each node: its sequence and when it last served each link (one round trip; one per node on a cluster). */
  async lookup(model: string, nodes: readonly string[], links: readonly string[]): Promise<Map<string, ServedLinks>> {
    const out = new Map<string, ServedLinks>();
    if (nodes.length === 0 || links.length === 0) return out;
    const read = async (group: readonly string[]): Promise<void> => {
      const pipe = this.redis.pipeline();
      for (const node of group) {
        pipe.get(this.keys.affinitySeq(node, model));
        pipe.zmscore(this.keys.affinityLinks(node, model), ...links);
      }
      const results = (await pipe.exec()) ?? [];
      group.forEach((node, i) => {
        const [seqErr, seq] = results[2 * i] ?? [];
        const [scoreErr, scores] = results[2 * i + 1] ?? [];
        if (seqErr || scoreErr || seq === null || seq === undefined) return;
        out.set(node, { seq: Number(seq), lastServed: ((scores as (string | null)[]) ?? []).map((s) => (s === null ? null : Number(s))) });
      });
    };
    if (this.redis.isCluster) await Promise.all(nodes.map((n) => read([n])));
    else await read(nodes);
    return out;
  }
}
