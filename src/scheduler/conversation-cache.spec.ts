import { cachedOnNode, warmRoom, type NodeCacheView } from './conversation-cache';

const chain = [
  { hash: 'sys', tokens: 1500 },
  { hash: 'q1', tokens: 1530, conversation: true as const },
  { hash: 'a1', tokens: 1600 },
  { hash: 'q2', tokens: 1630 },
];

describe('warmRoom', () => {
  it('keeps one entry of the slots and host cache in turnover', () => {
    // 2 slots + 8 host entries: a conversation survives 8 others, not 9 (the simulator's turn dumps).
    expect(warmRoom(10)).toBe(9);
    expect(warmRoom(2)).toBe(1);
    // One slot and nothing else still holds the last conversation.
    expect(warmRoom(1)).toBe(1);
  });
});

describe('cachedOnNode', () => {
  const served = (rank: number | undefined): NodeCacheView => ({ seq: 50, lastServed: [40, 40, 40, null], rank });

  it('counts the longest link served while fewer other conversations started there than it keeps warm', () => {
    expect(cachedOnNode(chain, served(0), 10)).toBe(1600);
    expect(cachedOnNode(chain, served(8), 10)).toBe(1600);
  });

  it('counts nothing once as many other conversations started there as it keeps warm', () => {
    expect(cachedOnNode(chain, served(9), 10)).toBe(0);
    expect(cachedOnNode(chain, served(1), 2)).toBe(0);
  });

  it('counts conversations, not requests: many turns of a few conversations evict nothing', () => {
    // 10 requests landed since (seq 50 against 40), more than the 10 sequences, but only 2 other conversations.
    expect(cachedOnNode(chain, served(2), 10)).toBe(1600);
  });

  it('falls back to the request count for a conversation the node does not track (a shared beginning)', () => {
    const shared: NodeCacheView = { seq: 50, lastServed: [48, null, null, null] };
    expect(cachedOnNode(chain, shared, 10)).toBe(1500);
    expect(cachedOnNode(chain, { ...shared, lastServed: [30, null, null, null] }, 10)).toBe(0);
  });
});
