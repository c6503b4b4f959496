import { fairOrder, liftedCounter, serviceCost, slotCap, underSlotCap, type FairEntry } from './fair-order';

const entry = (requestId: string, tenant: string, seq: number, priority = 5, model = 'm'): FairEntry => ({ requestId, tenant, seq, priority, model });

describe('fairOrder', () => {
  const flood = [entry('a1', 'a', 1), entry('a2', 'a', 2), entry('a3', 'a', 3)];
  const trickle = entry('b1', 'b', 4);

  it('puts the tenant served least first within a priority', () => {
    const order = fairOrder([...flood, trickle], new Map([['a', 300], ['b', 100]]), true);
    expect(order.map((e) => e.requestId)).toEqual(['b1', 'a1', 'a2', 'a3']);
  });

  it('keeps arrival order with fair share off', () => {
    const order = fairOrder([...flood, trickle], new Map([['a', 300], ['b', 100]]), false);
    expect(order.map((e) => e.requestId)).toEqual(['a1', 'a2', 'a3', 'b1']);
  });

  it('lets priority decide before any counter', () => {
    const urgent = entry('a9', 'a', 9, 1);
    const order = fairOrder([trickle, urgent], new Map([['a', 1e9], ['b', 0]]), true);
    expect(order.map((e) => e.requestId)).toEqual(['a9', 'b1']);
  });

  it('on equal counters puts the tenant with fewer requests waiting first', () => {
    const order = fairOrder([trickle, ...flood], new Map([['a', 50], ['b', 50]]), true);
    expect(order.map((e) => e.requestId)).toEqual(['b1', 'a1', 'a2', 'a3']);
  });

  it('breaks equal counters and equal backlogs by arrival', () => {
    const order = fairOrder([entry('b1', 'b', 7), entry('a1', 'a', 3)], new Map([['a', 50], ['b', 50]]), true);
    expect(order.map((e) => e.requestId)).toEqual(['a1', 'b1']);
  });

  it('treats a tenant without a counter as never served', () => {
    const order = fairOrder([...flood, trickle], new Map([['a', 1]]), true);
    expect(order[0].requestId).toBe('b1');
  });
});

describe('liftedCounter', () => {
  it('lifts a returning tenant to the smallest waiting counter', () => {
    expect(liftedCounter(10, [500, 300], 900)).toBe(300);
  });
  it('lifts to the tenant served last when nobody waits', () => {
    expect(liftedCounter(10, [], 900)).toBe(900);
  });
  it('never lowers a counter', () => {
    expect(liftedCounter(1000, [300], 900)).toBe(1000);
  });
});

describe('serviceCost', () => {
  it('weighs output tokens twice and divides by the weight', () => {
    expect(serviceCost(100, 50, 1)).toBe(200);
    expect(serviceCost(100, 50, 4)).toBe(50);
  });
  it('ignores negative counts and a weight that is not positive', () => {
    expect(serviceCost(-5, 10, 0)).toBe(20);
  });
});

describe('slot cap', () => {
  const slots = (): number => 4;

  it('leaves one slot for each other active tenant, and at least one for the tenant itself', () => {
    expect(slotCap(4, 0)).toBe(4);
    expect(slotCap(4, 1)).toBe(3);
    expect(slotCap(4, 9)).toBe(1);
  });

  it("holds back a tenant at its cap while another is active, so the other's next request finds a slot", () => {
    const waiting = [entry('a5', 'a', 5), entry('b2', 'b', 6)];
    const running = new Map([['a', 3]]);
    expect(underSlotCap(waiting, running, new Set(['a', 'b']), slots).map((e) => e.requestId)).toEqual(['b2']);
  });

  it('lets a tenant alone use every slot', () => {
    const running = new Map([['a', 3]]);
    expect(underSlotCap([entry('a5', 'a', 5)], running, new Set(['a']), slots)).toHaveLength(1);
    expect(underSlotCap([entry('a5', 'a', 5)], running, new Set(), slots)).toHaveLength(1);
  });

  it('counts the slots of the nodes that serve the model', () => {
    const running = new Map([['a', 1]]);
    const oneSlotForM = (model: string): number => (model === 'm' ? 1 : 8);
    // One slot for model m and another tenant active: the cap is still one, never zero.
    expect(underSlotCap([entry('a2', 'a', 2)], new Map(), new Set(['a', 'b']), oneSlotForM)).toHaveLength(1);
    expect(underSlotCap([entry('a2', 'a', 2)], running, new Set(['a', 'b']), oneSlotForM)).toHaveLength(0);
  });
});
