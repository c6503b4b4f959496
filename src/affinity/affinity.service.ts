import { Inject, Injectable } from '@nestjs/common';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig, type NodeConfig } from '../config/herd-config';
import { cachedOnNode } from '../scheduler/conversation-cache';
import { conversationOf, type PrefixLink } from '../scheduler/prefix-chain';
import { AffinityRepository } from './affinity.repository';

/** Below this many prompt tokens a cache hit saves too little prefill to be worth a Redis round trip. */
export const MIN_AFFINITY_TOKENS = 256;
/** Links kept per node and model: enough for the conversations its slots and prompt cache can hold, and then some. */
const LINKS_PER_ENTRY = 64;
/** Conversations kept per node and model, per sequence it keeps warm: a rank past the warm room only says "cold". */
const CONVERSATIONS_PER_ENTRY = 4;

/**
 * Conversation affinity (ADR 007): which node probably still holds the beginning of a prompt in its prompt cache.
 * Each node's recently served prefix links, and the order in which conversations started there, live in Redis
 * (AffinityRepository), shared by replicas; a node keeps about as many conversations warm as it has slots plus
 * host-RAM prompt cache entries, least recently used first out (scheduler/conversation-cache.ts), for as long as the
 * model stays loaded (HERD_AFFINITY_TTL_MS).
 */
@Injectable()
export class AffinityService {
  constructor(
    private readonly repo: AffinityRepository,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    private readonly log: Logger,
  ) {}

  /** Whether a prompt with this chain is worth looking up: affinity on, ECT, and a prompt long enough. */
  applies(chain: readonly PrefixLink[]): boolean {
    return this.config.affinity && this.config.strategy === 'ect' && chain.length > 0 && chain[chain.length - 1].tokens >= MIN_AFFINITY_TOKENS;
  }

  /** Prompt tokens each node probably holds for this chain (nodes holding none are left out). */
  async expectCached(model: string, chain: readonly PrefixLink[], nodes: readonly NodeConfig[]): Promise<Record<string, number> | undefined> {
    const conversation = conversationOf(chain);
    if (!this.applies(chain) || nodes.length === 0 || !conversation) return undefined;
    const views = await this.repo.lookup(
      model,
      nodes.map((n) => n.name),
      conversation,
      chain.map((l) => l.hash),
    );
    let cached: Record<string, number> | undefined;
    for (const node of nodes) {
      const view = views.get(node.name);
      const tokens = view ? cachedOnNode(chain, view, capacityOf(node)) : 0;
      if (tokens > 0) (cached ??= {})[node.name] = tokens;
    }
    return cached;
  }

  /** A request with this chain starts on the node: its conversation is the node's most recent one. Never holds it up. */
  started(node: NodeConfig, model: string, chain: readonly PrefixLink[]): void {
    const conversation = conversationOf(chain);
    if (!this.applies(chain) || !conversation) return;
    this.repo
      .started(node.name, model, conversation, Date.now(), this.config.affinityTtlMs, CONVERSATIONS_PER_ENTRY * capacityOf(node))
      .catch((err: Error) => this.log.debug('affinity start not recorded', { node: node.name, error: err.message }));
  }

  /** The node served a request with this chain: its prefixes are warm there now. Never holds up the request. */
  served(node: NodeConfig, model: string, chain: readonly PrefixLink[]): void {
    if (!this.applies(chain)) return;
    const keep = LINKS_PER_ENTRY * capacityOf(node);
    this.repo
      .served(
        node.name,
        model,
        chain.map((l) => l.hash),
        this.config.affinityTtlMs,
        keep,
      )
      .catch((err: Error) => this.log.debug('affinity not recorded', { node: node.name, error: err.message }));
  }
}

/** Sequences a node keeps warm per model: one per slot, plus its host-RAM prompt cache. */
export function capacityOf(node: Pick<NodeConfig, 'slots' | 'promptCacheEntries'>): number {
  return Math.max(1, node.slots) + Math.max(0, node.promptCacheEntries ?? 0);
}
