import { eligibleNodes, ineligibility } from './eligibility';
import { MODEL, node } from './scheduler.fixture';
import type { NodeSnapshot } from './scheduler.types';

const GB = 1024 ** 3;

describe('ineligibility', () => {
  it.each<[string, Partial<NodeSnapshot>, string | undefined]>([
    ['a healthy node with the model', {}, undefined],
    ['an unhealthy node', { healthy: false }, 'unhealthy'],
    ['a draining node', { draining: true }, 'draining'],
    ['a node without slots', { slots: 0 }, 'no-slots'],
    ['a node without the model', { models: [{ name: 'mistral:latest' }] }, 'no-model'],
    ['a node listing the model without its tag', { models: [{ name: 'llama3' }] }, undefined],
    ['a node with the model under another tag only', { models: [{ name: 'llama3:70b' }] }, 'no-model'],
    ['a node too small for the model', { memoryGb: 4, models: [{ name: MODEL, sizeBytes: 4 * GB + 1 }] }, 'too-small'],
    ['a node exactly big enough', { memoryGb: 4, models: [{ name: MODEL, sizeBytes: 4 * GB }] }, undefined],
    ['a node without declared memory', { models: [{ name: MODEL, sizeBytes: 400 * GB }] }, undefined],
    ['a model of unknown size', { memoryGb: 1, models: [{ name: MODEL }] }, undefined],
  ])('%s', (_label, over, reason) => {
    expect(ineligibility(node('n', over), MODEL)).toBe(reason);
  });

  it('matches an untagged request against a tagged model', () => {
    expect(ineligibility(node('n'), 'llama3')).toBeUndefined();
  });

  it('filters a fleet down to the eligible nodes', () => {
    const fleet = { nodes: [node('a'), node('b', { healthy: false }), node('c', { draining: true }), node('d')] };
    expect(eligibleNodes(fleet, MODEL).map((n) => n.name)).toEqual(['a', 'd']);
  });
});
