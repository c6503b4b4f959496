import { startSimNode } from '../../sim';
import { benchNodes, benchWeights, fleetCapacity, fleetModels, herdNodeConfigs, loadBenchFleet, simGenerateOutputLength, simPromptTokens, toClairvoyantNodes } from './fleets';

describe('bench fleets', () => {
  it('reads the heterogeneous fleet with the simulator defaults filled in', () => {
    const { nodes } = loadBenchFleet('hetero');
    expect(nodes.map((n) => [n.name, n.slots, n.decodeTps, n.slowdown])).toEqual([
      ['fast', 2, 60, 0.3],
      ['medium', 1, 30, 0.3],
      ['slow', 1, 10, 0.3],
    ]);
    expect(fleetModels(nodes)).toEqual(['llama3:latest', 'qwen2.5:7b']);
    expect(nodes[0].resident).toEqual(['llama3:latest']);
  });

  it('counts capacity with every slot busy, slowdown included', () => {
    const { nodes } = loadBenchFleet('hetero');
    expect(fleetCapacity(nodes)).toBeCloseTo(120 / 1.3 + 30 + 10, 9);
    expect(fleetCapacity(loadBenchFleet('homo').nodes)).toBeCloseTo(90, 9);
  });

  it('weighs nodes by capacity for weighted round-robin', () => {
    const { nodes } = loadBenchFleet('hetero');
    expect(benchWeights(nodes)).toEqual([9, 3, 1]);
    expect(herdNodeConfigs(nodes, ['u1', 'u2', 'u3'])).toEqual([
      { name: 'fast', url: 'u1', slots: 2, weight: 9 },
      { name: 'medium', url: 'u2', slots: 1, weight: 3 },
      { name: 'slow', url: 'u3', slots: 1, weight: 1 },
    ]);
  });

  it('gives the clairvoyant the simulator’s speeds', () => {
    const cv = toClairvoyantNodes(benchNodes({ nodes: [{ name: 'n', models: [{ name: 'llama3' }] }] }));
    expect(cv).toEqual([{ name: 'n', slots: 1, decodeTps: 30, prefillTps: 1000, slowdown: 0.3, loadMs: 2000, models: ['llama3:latest'], resident: [] }]);
  });

  it('predicts exactly what the simulator answers (output length and prompt tokens)', async () => {
    const node = await startSimNode({ name: 'n', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], timeScale: 0 });
    try {
      const lengthOf = simGenerateOutputLength(1024);
      for (const [prompt, numPredict] of [['why is the sky blue', undefined], ['explain the fleet queue, briefly', undefined], ['short', 7]] as const) {
        const res = await fetch(`${node.url}/api/generate`, {
          method: 'POST',
          body: JSON.stringify({ model: 'llama3', prompt, stream: false, ...(numPredict === undefined ? {} : { options: { num_predict: numPredict } }) }),
        });
        const body = (await res.json()) as { eval_count: number; prompt_eval_count: number };
        expect(body.eval_count).toBe(lengthOf('llama3', prompt, numPredict));
        expect(body.prompt_eval_count).toBe(simPromptTokens(prompt));
      }
    } finally {
      await node.close();
    }
  });
});
