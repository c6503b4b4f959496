import { join } from 'node:path';
import { fleetFromArgs, parseCliArgs, runCli } from './cli';

describe('cli arguments', () => {
  it('parses flags in both --flag value and --flag=value forms', () => {
    expect(parseCliArgs(['--fleet', 'f.json', '--time-scale=0.1', '--base-port', '11434'])).toEqual({
      help: false,
      fleet: 'f.json',
      timeScale: 0.1,
      basePort: 11434,
    });
    expect(parseCliArgs(['--nodes', '3'])).toMatchObject({ nodes: 3 });
    expect(parseCliArgs(['--help']).help).toBe(true);
  });

  it('rejects bad or conflicting arguments', () => {
    expect(() => parseCliArgs([])).toThrow(/either --fleet/);
    expect(() => parseCliArgs(['--nodes', '2', '--fleet', 'x'])).toThrow(/either --fleet/);
    expect(() => parseCliArgs(['--nodes', 'two'])).toThrow(/--nodes must be an integer/);
    expect(() => parseCliArgs(['--time-scale', '-1', '--nodes', '1'])).toThrow(/--time-scale/);
    expect(() => parseCliArgs(['--bogus'])).toThrow(/unknown argument/);
  });

  it('builds a homogeneous llama3 fleet for --nodes, with base ports and time scale applied', () => {
    const cfg = fleetFromArgs(parseCliArgs(['--nodes', '3', '--base-port', '20000', '--time-scale', '0']));
    expect(cfg.nodes.map((n) => [n.name, n.port, n.timeScale, n.resident])).toEqual([
      ['sim-1', 20000, 0, ['llama3:latest']],
      ['sim-2', 20001, 0, ['llama3:latest']],
      ['sim-3', 20002, 0, ['llama3:latest']],
    ]);
  });
});

describe('runCli', () => {
  it('starts a fleet file and prints one line per node: name url models slots tps', async () => {
    const lines: string[] = [];
    const fleet = await runCli(['--fleet', join(__dirname, 'fleets', 'hetero.json'), '--time-scale', '0'], (l) => lines.push(l));
    try {
      expect(lines).toHaveLength(3);
      const fields = lines.map((l) => l.split(/\s+/));
      expect(fields[0]).toEqual(['fast', fleet?.nodes[0].url, 'llama3:latest,qwen2.5:7b', 'slots=2', 'tps=60']);
      expect(fields[2]).toEqual(['slow', fleet?.nodes[2].url, 'llama3:latest', 'slots=1', 'tps=10']);
      const res = await fetch(`${fleet?.nodes[1].url}/api/tags`);
      expect(res.status).toBe(200);
    } finally {
      await fleet?.close();
    }
  });

  it('prints usage for --help and starts nothing', async () => {
    const lines: string[] = [];
    expect(await runCli(['--help'], (l) => lines.push(l))).toBeNull();
    expect(lines.join('\n')).toContain('--fleet');
  });
});
