import 'reflect-metadata';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadFleetFile, startSimFleet } from '../sim';
import { startHerdOrExit } from '../src/bootstrap';
import { loadConfigOrExit } from '../src/config/load-config';
import { Logger } from '../src/common/logger';

/**
 * One command, everything included: a simulated Ollama fleet on loopback, an embedded Redis (unless REDIS_URL
 * is set) and Herd in front of them.
 */
async function main(): Promise<void> {
  const fleetFile = resolve(process.env.HERD_DEMO_FLEET ?? join(__dirname, '../../sim/fleets/demo.json'));
  const fleetConfig = loadFleetFile(fleetFile);
  const fleet = await startSimFleet(fleetConfig);
  const dir = mkdtempSync(join(tmpdir(), 'herd-demo-'));
  const containers = join(dir, 'containers.config.json');
  writeFileSync(containers, JSON.stringify(fleet.nodes.map((n, i) => ({ name: n.name, url: n.url, slots: fleetConfig.nodes[i].slots ?? 1 })), null, 2));

  // Loopback by default: the admin routes and heartbeats are then open without keys (only this machine reaches them).
  const config = loadConfigOrExit({ PORT: '3000', HOST: '127.0.0.1', HERD_HEALTH_INTERVAL_MS: '2000', ...process.env, CONTAINERS_CONFIG: containers });
  const log = new Logger(config.logLevel, config.logFormat);
  const herd = await startHerdOrExit(config, log, () => fleet.close());
  const model = herd.core.fleet.nodes().length ? 'llama3' : 'MODEL';
  process.stdout.write(
    [
      '',
      `Herd demo is running at ${herd.url} in front of ${fleet.nodes.length} simulated Ollama nodes:`,
      ...fleet.nodes.map((n) => `  ${n.name.padEnd(10)} ${n.url}`),
      '',
      'Try it:',
      `  curl -s ${herd.url}/ollama/generate -H 'content-type: application/json' \\`,
      `    -d '{"model":"${model}","prompt":"Why is the sky blue?","priority":1}'`,
      `  curl -s ${herd.url}/health`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );

  const stop = (): void => {
    void herd
      .close(5000)
      .then(() => fleet.close())
      .then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
