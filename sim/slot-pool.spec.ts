import { SimAbortError } from './clock';
import { SlotPool } from './slot-pool';

describe('SlotPool', () => {
  it('admits up to `slots` at once and the rest in FIFO order', async () => {
    const pool = new SlotPool(2, 10);
    expect(pool.enter()).toBe('entered');
    expect(pool.enter()).toBe('entered');
    const order: number[] = [];
    const waits = [1, 2, 3].map((n) => {
      const p = pool.enter();
      if (typeof p === 'string') throw new Error('expected to wait');
      return p.then(() => order.push(n));
    });
    expect(pool.active()).toBe(2);
    expect(pool.queued()).toBe(3);
    pool.release();
    pool.release();
    await Promise.resolve();
    await Promise.resolve();
    expect(order).toEqual([1, 2]);
    expect(pool.queued()).toBe(1);
    pool.release();
    await Promise.all(waits);
    expect(order).toEqual([1, 2, 3]);
    expect(pool.maxActiveSeen()).toBe(2);
  });

  it('answers busy when maxQueue requests already wait', () => {
    const pool = new SlotPool(1, 1);
    expect(pool.enter()).toBe('entered');
    expect(typeof pool.enter()).toBe('object');
    expect(pool.enter()).toBe('busy');
  });

  it('removes an aborted waiter from the queue at once', async () => {
    const pool = new SlotPool(1, 5);
    expect(pool.enter()).toBe('entered');
    const ac = new AbortController();
    const waiting = pool.enter(ac.signal);
    const next = pool.enter();
    expect(pool.queued()).toBe(2);
    ac.abort();
    await expect(waiting).rejects.toBeInstanceOf(SimAbortError);
    expect(pool.queued()).toBe(1);
    pool.release();
    await next;
    expect(pool.active()).toBe(1);
    expect(pool.queued()).toBe(0);
  });
});
