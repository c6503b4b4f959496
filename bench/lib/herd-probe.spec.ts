import { metricSum } from './herd-probe';

describe('metricSum', () => {
  it('adds every sample of one family and nothing of families sharing its prefix', () => {
    const text = [
      '# HELP herd_queue_depth Requests waiting.',
      '# TYPE herd_queue_depth gauge',
      'herd_queue_depth{priority="1"} 2',
      'herd_queue_depth{priority="5"} 40',
      'herd_queue_depth_other 1000',
      'herd_node_in_flight{node="fast"} 2',
      'herd_up 1',
    ].join('\n');
    expect(metricSum(text, 'herd_queue_depth')).toBe(42);
    expect(metricSum(text, 'herd_node_in_flight')).toBe(2);
    expect(metricSum(text, 'herd_up')).toBe(1);
    expect(metricSum(text, 'herd_missing')).toBe(0);
  });
});
