import { batchLaneCap, batchLaneNodes } from './batch-lane';

describe('batchLaneNodes', () => {
  const idle = new Map<string, number>();

  it('keeps the fastest node free and offers the others, best first', () => {
    expect(batchLaneNodes(['fast', 'medium', 'slow'], idle, 1)).toEqual(['medium', 'slow']);
  });

  it('keeps as many fastest nodes as asked', () => {
    expect(batchLaneNodes(['fast', 'medium', 'slow'], idle, 2)).toEqual(['slow']);
    expect(batchLaneNodes(['fast', 'medium', 'slow'], idle, 0)).toEqual(['fast', 'medium', 'slow']);
  });

  it('offers only idle nodes: a node running anything is not shared with a batch line', () => {
    expect(batchLaneNodes(['fast', 'medium', 'slow'], new Map([['medium', 1]]), 1)).toEqual(['slow']);
    expect(batchLaneNodes(['fast', 'medium', 'slow'], new Map([['medium', 1], ['slow', 2]]), 1)).toEqual([]);
  });

  it('does not use a busy fast node as a reason to offer it: the kept nodes stay kept', () => {
    expect(batchLaneNodes(['fast', 'medium'], new Map([['fast', 1]]), 1)).toEqual(['medium']);
  });

  it('leaves a model on fewer nodes than kept one node to run its batch on', () => {
    expect(batchLaneNodes(['only'], idle, 1)).toEqual(['only']);
    expect(batchLaneNodes(['a', 'b'], idle, 5)).toEqual(['b']);
    expect(batchLaneNodes([], idle, 1)).toEqual([]);
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
