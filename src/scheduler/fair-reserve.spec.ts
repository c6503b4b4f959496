import { fastPathKeepsFastestFree, fastestNode, keepsFastestFree, nextTicketWithReserve, quietTenants, withOneSlotKept } from './fair-reserve';
import { MODEL, node, rates } from './scheduler.fixture';

/** The bench's heterogeneous fleet: fast 60 tok/s x2, medium 30 x1, slow 10 x1. */
const hetero = (inFlight: Record<string, number> = {}) => [
  node('fast', { slots: 2, rates: rates(60), inFlight: inFlight.fast ?? 0 }),
  node('medium', { rates: rates(30), inFlight: inFlight.medium ?? 0 }),
  node('slow', { rates: rates(10), inFlight: inFlight.slow ?? 0 }),
];

describe('quietTenants', () => {
  it('are the tenants seen within the window with at most one request running or waiting', () => {
    const recent = [
      { tenant: 'idle', running: 0, waiting: 0 }, // between two chat turns
      { tenant: 'running', running: 1, waiting: 0 }, // its one request runs
      { tenant: 'waiting', running: 0, waiting: 1 }, // its one request waits for the slot kept for it
      { tenant: 'burst', running: 4, waiting: 50 },
      { tenant: 'throttled', running: 0, waiting: 8 }, // a small weight's backlog: the counters serve it
    ];
    expect(quietTenants(recent)).toEqual(['idle', 'running', 'waiting']);
  });

  it('are none when every tenant is backlogged: no slot idles for nobody', () => {
    expect(quietTenants([{ tenant: 'a', running: 8, waiting: 3 }, { tenant: 'b', running: 2, waiting: 6 }])).toEqual([]);
  });
});

describe('keepsFastestFree', () => {
  it('keeps a tenant with a request running out of the last fast slot while another tenant is quiet', () => {
    expect(keepsFastestFree('a', 3, ['b'])).toBe(true);
    expect(keepsFastestFree('a', 1, ['a', 'b'])).toBe(true);
  });

  it('lets a tenant with nothing running take it (the one coming back)', () => {
    expect(keepsFastestFree('b', 0, ['a'])).toBe(false);
  });

  it('keeps nobody out when no other tenant is quiet (every tenant backlogged, or gone for longer than the window)', () => {
    expect(keepsFastestFree('a', 5, [])).toBe(false);
  });

  it('is inert with one tenant: nobody else can be quiet', () => {
    expect(keepsFastestFree('only', 8, ['only'])).toBe(false);
  });
});

describe('fastPathKeepsFastestFree', () => {
  it("lets a quiet tenant's lone request take the slot kept for it", () => {
    expect(fastPathKeepsFastestFree('b', true, ['b', 'c'])).toBe(false);
  });

  it('keeps out a busy tenant while another is quiet', () => {
    expect(fastPathKeepsFastestFree('a', false, ['b'])).toBe(true);
  });

  it("keeps out the first request of a tenant not seen lately (a burst's first looks like anybody's)", () => {
    expect(fastPathKeepsFastestFree('a', true, ['b'])).toBe(true);
  });

  it('keeps out a quiet tenant that has other requests under way on this replica', () => {
    expect(fastPathKeepsFastestFree('b', false, ['b', 'c'])).toBe(true);
  });

  it('keeps nothing when no other tenant is quiet', () => {
    expect(fastPathKeepsFastestFree('a', false, [])).toBe(false);
    expect(fastPathKeepsFastestFree('a', false, ['a'])).toBe(false);
    expect(fastPathKeepsFastestFree('a', true, ['a'])).toBe(false);
  });
});

describe('fastestNode', () => {
  it('is the node with the highest learned decode rate for the model', () => {
    expect(fastestNode(hetero(), MODEL)).toBe('fast');
    expect(fastestNode([node('a', { rates: rates(20) }), node('b', { rates: rates(45) })], MODEL)).toBe('b');
  });

  it('does not depend on the load: a busy fast node is still the fastest', () => {
    expect(fastestNode(hetero({ fast: 2, medium: 1 }), MODEL)).toBe('fast');
  });

  it('skips nodes that cannot take the model', () => {
    const nodes = [node('fast', { rates: rates(60), healthy: false }), node('gone', { rates: rates(90), models: [] }), node('medium', { rates: rates(30) })];
    expect(fastestNode(nodes, MODEL)).toBe('medium');
    expect(fastestNode([], MODEL)).toBeUndefined();
  });

  it('uses the hint before anything is measured, and prefers a measured rate or the name on a tie', () => {
    expect(fastestNode([node('a', { tokensPerSecondHint: 20 }), node('b', { tokensPerSecondHint: 40 })], MODEL)).toBe('b');
    // An untried node's prior is the fleet's best measured rate: the measured node stays the fastest.
    expect(fastestNode([node('untried'), node('known', { rates: rates(50) })], MODEL)).toBe('known');
    expect(fastestNode([node('y'), node('x')], MODEL)).toBe('x');
  });
});

describe('withOneSlotKept', () => {
  const blank = { inFlight: 0, backlogTokens: 0 };

  it('counts one more slot taken on the kept node only', () => {
    const loads = new Map([['fast', { inFlight: 1, backlogTokens: 500 }]]);
    const kept = withOneSlotKept(loads, 'fast', 2, blank);
    expect(kept.get('fast')).toEqual({ inFlight: 2, backlogTokens: 500 });
    expect(loads.get('fast')?.inFlight).toBe(1);
    expect(withOneSlotKept(new Map(), 'fast', 2, blank).get('fast')?.inFlight).toBe(1);
    expect(withOneSlotKept(loads, undefined, 2, blank)).toEqual(loads);
  });

  it('leaves a full node as it is', () => {
    const loads = new Map([['fast', { inFlight: 2, backlogTokens: 900 }]]);
    expect(withOneSlotKept(loads, 'fast', 2, blank).get('fast')?.inFlight).toBe(2);
  });
});

describe('nextTicketWithReserve', () => {
  const entry = (tenant: string) => ({ tenant, model: MODEL });
  // A has requests running, B is quiet: A is kept from the fast node's last free slot.
  const keptFrom = (e: { tenant: string }) => (keepsFastestFree(e.tenant, e.tenant === 'a' ? 4 : 0, ['b']) ? 'fast' : undefined);

  it("holds the burst back when the only free slot is the fast node's last", () => {
    const nodes = hetero({ fast: 1, medium: 1, slow: 1 });
    expect(nextTicketWithReserve([entry('a'), entry('a')], nodes, [], keptFrom)).toBeUndefined();
  });

  it('gives that slot to the tenant with nothing running, even behind the burst', () => {
    const nodes = hetero({ fast: 1, medium: 1, slow: 1 });
    expect(nextTicketWithReserve([entry('a'), entry('b')], nodes, [], keptFrom)).toBe(1);
  });

  it('lets the burst take a free slot elsewhere, or one of two free fast slots', () => {
    expect(nextTicketWithReserve([entry('a')], hetero({ fast: 1, medium: 0, slow: 1 }), [], keptFrom)).toBe(0);
    expect(nextTicketWithReserve([entry('a')], hetero({ fast: 0, medium: 1, slow: 1 }), [], keptFrom)).toBe(0);
  });

  it('counts a placement under way before the kept slot', () => {
    // Two fast slots free, one claimed by a placement under way: the other is the last, kept.
    expect(nextTicketWithReserve([entry('a')], hetero({ medium: 1, slow: 1 }), [MODEL], keptFrom)).toBeUndefined();
    expect(nextTicketWithReserve([entry('b')], hetero({ medium: 1, slow: 1 }), [MODEL], keptFrom)).toBe(0);
  });

  it('is nextTicket when nobody is kept out: a single-tenant burst uses every slot', () => {
    const none = () => undefined;
    const solo = (e: { tenant: string }) => (keepsFastestFree(e.tenant, 3, ['a']) ? 'fast' : undefined);
    const nodes = hetero({ fast: 1, medium: 1, slow: 1 });
    expect(nextTicketWithReserve([entry('a')], nodes, [], none)).toBe(0);
    expect(nextTicketWithReserve([entry('a')], nodes, [], solo)).toBe(0);
    expect(nextTicketWithReserve([entry('a')], hetero({ fast: 2, medium: 1, slow: 1 }), [], none)).toBeUndefined();
  });
});
