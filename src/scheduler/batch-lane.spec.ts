import { batchLaneCap, batchLaneNodes } from './batch-lane';

describe('batchLaneNodes', () => {
  const idle = new Map<string, number>();
  const slots = new Map([
    ['fast', 2],
    ['medium', 1],
    ['slow', 1],
  ]);

  it('keeps the fastest node free and offers the others, best first', () => {
    expect(batchLaneNodes(['fast', 'medium', 'slow'], idle, slots, 1)).toEqual(['medium', 'slow']);
  });

  it('keeps as many fastest nodes as asked', () => {
    expect(batchLaneNodes(['fast', 'medium', 'slow'], idle, slots, 2)).toEqual(['slow']);
    expect(batchLaneNodes(['fast', 'medium', 'slow'], idle, slots, 0)).toEqual(['fast', 'medium', 'slow']);
  });

  it('offers only idle nodes: a node running anything is not shared with a batch line', () => {
    expect(batchLaneNodes(['fast', 'medium', 'slow'], new Map([['medium', 1]]), slots, 1)).toEqual(['slow']);
    expect(batchLaneNodes(['fast', 'medium', 'slow'], new Map([['medium', 1], ['slow', 2]]), slots, 1)).toEqual([]);
  });

  it('offers the other nodes while a kept node still has a free slot', () => {
    expect(batchLaneNodes(['fast', 'medium', 'slow'], new Map([['fast', 1]]), slots, 1)).toEqual(['medium', 'slow']);
  });

  it('offers nothing while every kept node is full: interactive work is spilling onto the others', () => {
    expect(batchLaneNodes(['fast', 'medium', 'slow'], new Map([['fast', 2]]), slots, 1)).toEqual([]);
    expect(batchLaneNodes(['fast', 'medium', 'slow'], new Map([['fast', 2]]), slots, 2)).toEqual(['slow']);
    expect(batchLaneNodes(['fast', 'medium', 'slow'], new Map([['fast', 2], ['medium', 1]]), slots, 2)).toEqual([]);
  });

  it('takes a node missing from the slot map for one slot', () => {
    expect(batchLaneNodes(['a', 'b'], new Map([['a', 1]]), new Map(), 1)).toEqual([]);
  });

  it('leaves a model on fewer nodes than kept one node to run its batch on', () => {
    expect(batchLaneNodes(['only'], idle, slots, 1)).toEqual(['only']);
    expect(batchLaneNodes(['a', 'b'], idle, slots, 5)).toEqual(['b']);
    expect(batchLaneNodes([], idle, slots, 1)).toEqual([]);
  });
});

describe('batchLaneCap', () => {
  it('is the configured cap when set', () => {
    expect(batchLaneCap(3, 10)).toBe(3);
  });

  it('is half the fleet slots by default, at least one', () => {
    expect(batchLaneCap(0, 4)).toBe(2);
    expect(batchLaneCap(0, 5)).toBe(2);
    expect(batchLaneCap(0, 1)).toBe(1);
    expect(batchLaneCap(0, 0)).toBe(1);
  });
});
