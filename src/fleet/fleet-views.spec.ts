import { compareVersions, lowestVersion, unionTags } from './fleet-views';

describe('fleet views', () => {
  it('unions tags with one entry per model, sorted', () => {
    const merged = unionTags([
      [{ name: 'llama3:latest', size: 1 }, { name: 'qwen2.5:7b', size: 2 }],
      [{ name: 'llama3:latest', size: 99 }, { name: 'all-minilm:latest', size: 3 }],
    ]);
    expect(merged.map((m) => m.name)).toEqual(['all-minilm:latest', 'llama3:latest', 'qwen2.5:7b']);
    expect(merged.find((m) => m.name === 'llama3:latest')?.size).toBe(1);
  });

  it('lists a model once however the nodes spell it, in the first node’s spelling', () => {
    const merged = unionTags([
      [{ name: 'hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M', size: 1 }],
      [{ name: 'hf.co/bartowski/llama-3.2-1b-instruct-gguf:q4_k_m', size: 1 }, { name: 'Llama3:latest', size: 2 }],
      [{ name: 'llama3:latest', size: 2 }],
    ]);
    expect(merged.map((m) => m.name)).toEqual(['hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M', 'Llama3:latest']);
  });

  it('compares versions numerically', () => {
    expect(compareVersions('0.10.1', '0.9.7')).toBeGreaterThan(0);
    expect(compareVersions('v0.5.0', '0.5')).toBe(0);
    expect(compareVersions('0.5.0-rc1', '0.5.1')).toBeLessThan(0);
  });

  it('reports the lowest known version', () => {
    expect(lowestVersion(['0.12.6', undefined, '0.9.7', '0.10.0'])).toBe('0.9.7');
    expect(lowestVersion([undefined])).toBeUndefined();
  });
});
