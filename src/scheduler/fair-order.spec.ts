import { fairOrder, liftedCounter, serviceCost, type FairEntry } from './fair-order';

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
