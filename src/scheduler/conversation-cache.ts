import { expectedCachedTokens, type PrefixLink } from './prefix-chain';

/**
 * A node's prompt cache seen as conversations (ADR 007): its slots and host-RAM entries hold the last sequence of
 * the conversations that started there most recently, least recently used first out. Pure: the caller reads the
 * view from Redis.
 */

/** What one node served of a model lately, as read for one request. */
export interface NodeCacheView {
  /** The node's serving sequence now (one per request it served for the model). */
  seq: number;
  /** For each link of the request's chain, the sequence it was last served at on this node (null: never). */
  lastServed: readonly (number | null)[];
  /** How many other conversations started on the node since this request's conversation last did; undefined: not there. */
  rank?: number;
}

/**
 * Distinct conversations a node keeps warm. A request for a new conversation evicts the least recent sequence
 * before its own is saved, so one entry of `slots + promptCacheEntries` is always in turnover: the simulator's turn
 * dumps showed a conversation still warm after 8 others on a 2-slot node with 8 host entries, and cold after 9.
 */
export function warmRoom(capacity: number): number {
  return Math.max(1, capacity - 1);
}

/**
 * Prompt tokens the node probably holds for this chain. When the conversation is tracked there, it is warm while
 * fewer than warmRoom other conversations started on the node after it. Otherwise (another conversation with the
 * same beginning) the request count since each link was served decides.
 */
export function cachedOnNode(chain: readonly PrefixLink[], view: NodeCacheView, capacity: number): number {
  if (view.rank !== undefined) {
    if (view.rank >= warmRoom(capacity)) return 0;
    return expectedCachedTokens(chain, view.lastServed, view.seq, Number.POSITIVE_INFINITY);
  }
  return expectedCachedTokens(chain, view.lastServed, view.seq, capacity);
}
