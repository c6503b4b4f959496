import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFleetFile, startSimFleet, validateFleetConfig } from './index';

const fleet = (name: string): string => join(__dirname, 'fleets', name);

function writeTemp(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'herd-sim-'));
  const path = join(dir, 'fleet.json');
  writeFileSync(path, content);
  return path;
}

describe('shipped fleet files', () => {
  it('hetero: 60/30/10 tok/s, slots 2/1/1, llama3 resident everywhere, qwen2.5:7b on the first two only and cold', () => {
    const cfg = loadFleetFile(fleet('hetero.json'));
    expect(cfg.nodes.map((n) => [n.decodeTps, n.slots])).toEqual([
      [60, 2],
      [30, 1],
      [10, 1],
    ]);
    for (const node of cfg.nodes) expect(node.resident).toEqual(['llama3:latest']);
    expect(cfg.nodes.map((n) => n.models.some((m) => m.name === 'qwen2.5:7b'))).toEqual([true, true, false]);
  });

  it('homo: three equal nodes at 30 tok/s with one slot and llama3 resident', () => {
    const cfg = loadFleetFile(fleet('homo.json'));
    expect(cfg.nodes).toHaveLength(3);
    for (const node of cfg.nodes) expect(node).toMatchObject({ decodeTps: 30, slots: 1, resident: ['llama3:latest'] });
  });

  it('demo: three nodes, 2-3 models each including nomic-embed-text, a time scale below 1', () => {
    const cfg = loadFleetFile(fleet('demo.json'));
    expect(cfg.nodes).toHaveLength(3);
    for (const node of cfg.nodes) {
      expect(node.models.length).toBeGreaterThanOrEqual(2);
      expect(node.models.length).toBeLessThanOrEqual(3);
    }
    expect(cfg.nodes.some((n) => n.models.some((m) => m.name === 'nomic-embed-text:latest'))).toBe(true);
    expect(cfg.nodes.some((n) => n.caseSensitiveNames === true && n.models.some((m) => m.name === 'hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M'))).toBe(true);
    expect(cfg.timeScale).toBeGreaterThan(0);
    expect(cfg.timeScale).toBeLessThan(1);
  });
});

describe('loadFleetFile', () => {
  it('lists every problem in one error', () => {
    const path = writeTemp(
      JSON.stringify({
        nodes: [
          { name: 'a', models: ['llama3'], slots: 0, decodeTPS: 30, resident: ['qwen'] },
          { name: 'a', models: [{ name: 'x', size: 3 }], port: 99999 },
        ],
        extra: true,
      }),
    );
    let message = '';
    try {
      loadFleetFile(path);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(path);
    for (const expected of [
      'unknown top-level key "extra"',
      'nodes[0].slots: must be an integer >= 1',
      'nodes[0]: unknown option "decodeTPS"',
      'nodes[0].resident[0]: "qwen" is not one of the node\'s models',
      'nodes[1].name: "a" is also the name of nodes[0]',
      'nodes[1].models[0]: unknown field "size"',
      'nodes[1].port: must be an integer from 0 to 65535',
    ]) {
      expect(message).toContain(expected);
    }
  });

  it('reports unreadable and non-JSON files clearly', () => {
    expect(() => loadFleetFile('/nonexistent/fleet.json')).toThrow(/Cannot read fleet file/);
    expect(() => loadFleetFile(writeTemp('{ nodes: ['))).toThrow(/not valid JSON/);
    expect(validateFleetConfig({ nodes: [] }).problems).toEqual(['nodes: must be a non-empty array']);
  });
});

describe('startSimFleet', () => {
  it('starts every node with the fleet time scale and closes them all', async () => {
    const cfg = loadFleetFile(fleet('hetero.json'));
    const running = await startSimFleet({ ...cfg, timeScale: 0 });
    try {
      expect(running.nodes.map((n) => n.name)).toEqual(['fast', 'medium', 'slow']);
      expect(new Set(running.nodes.map((n) => n.port)).size).toBe(3);
      const states = await Promise.all(running.nodes.map(async (n) => (await (await fetch(`${n.url}/_sim/state`)).json()) as Record<string, unknown>));
      expect(states.map((s) => s.timeScale)).toEqual([0, 0, 0]);
      expect(states.map((s) => s.resident)).toEqual([['llama3:latest'], ['llama3:latest'], ['llama3:latest']]);
    } finally {
      await running.close();
    }
    await expect(fetch(`${running.nodes[0].url}/api/version`)).rejects.toThrow();
  });

  it('refuses invalid node options with a clear error', async () => {
    await expect(startSimFleet({ nodes: [{ name: 'bad', models: [], slots: -1 }] })).rejects.toThrow(/slots: must be an integer >= 1/);
  });
});
