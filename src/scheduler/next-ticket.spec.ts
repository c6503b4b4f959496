import { nextTicket, placingClaim } from './next-ticket';
import { node } from './scheduler.fixture';

const A = 'llama3:latest';
const B = 'qwen2.5:7b';
const onlyA = { models: [{ name: A }] };
const onlyB = { models: [{ name: B }] };

describe('nextTicket', () => {
  it('takes the first ticket when a node that serves it is free', () => {
    expect(nextTicket([{ model: A }, { model: B }], [node('a', onlyA), node('b', onlyB)], [])).toBe(0);
  });

  it('lets a ticket for an idle model pass one whose nodes are all busy', () => {
    const nodes = [node('a', { ...onlyA, inFlight: 1 }), node('b', onlyB)];
    expect(nextTicket([{ model: A }, { model: A }, { model: B }], nodes, [])).toBe(2);
  });

  it('holds every ticket back when no node that could serve any of them has room', () => {
    const nodes = [node('a', { ...onlyA, inFlight: 1 }), node('b', onlyB)];
    expect(nextTicket([{ model: A }, { model: A }], nodes, [])).toBeUndefined();
    expect(nextTicket([], nodes, [])).toBeUndefined();
  });

  it('counts a placement under way as taking a free slot it could use', () => {
    const nodes = [node('a', onlyA), node('b', onlyB)];
    // One A placement already claims a's only slot: the next A ticket waits, the B ticket may start.
    expect(nextTicket([{ model: A }, { model: B }], nodes, [A])).toBe(1);
    expect(nextTicket([{ model: A }], nodes, [A])).toBeUndefined();
    // A placement for B does not claim a's slot.
    expect(nextTicket([{ model: A }], nodes, [B])).toBe(0);
  });

  it('keeps priority order when both could start', () => {
    const both = { models: [{ name: A }, { name: B }] };
    expect(nextTicket([{ model: B }, { model: A }], [node('x', { ...both, slots: 2 })], [])).toBe(0);
  });

  it('ignores nodes that are down, draining or lack the model, and matches names as Ollama does', () => {
    const nodes = [node('down', { ...onlyB, healthy: false }), node('drain', { ...onlyB, draining: true }), node('a', onlyA)];
    expect(nextTicket([{ model: B }], nodes, [])).toBeUndefined();
    expect(nextTicket([{ model: 'LLAMA3' }], nodes, [])).toBe(0);
  });

  it('uses every free slot of a multi-slot node', () => {
    const nodes = [node('a', { ...onlyA, slots: 3, inFlight: 1 })];
    expect(nextTicket([{ model: A }], nodes, [A])).toBe(0);
    expect(nextTicket([{ model: A }], nodes, [A, A])).toBeUndefined();
  });

  it('counts a placement that waits for one node as claiming a slot there only', () => {
    const both = { models: [{ name: A }] };
    const nodes = [node('a', { ...both, inFlight: 1 }), node('b', both)];
    // Unpinned, the placement would take b's free slot and the next ticket would wait.
    expect(nextTicket([{ model: A }], nodes, [A])).toBeUndefined();
    // Waiting for busy a, it leaves b to the next ticket...
    expect(nextTicket([{ model: A }], nodes, [placingClaim(A, 'a')])).toBe(0);
    // ...and waiting for b (free), it claims b's slot.
    expect(nextTicket([{ model: A }], nodes, [placingClaim(A, 'b')])).toBeUndefined();
    expect(placingClaim(A)).toBe(A);
  });
});
