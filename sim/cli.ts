import { loadFleetFile } from './fleet-file';
import { NODE_DEFAULTS } from './node-options';
import { startSimFleet } from './sim-fleet';
import type { SimFleet, SimFleetConfig, SimNodeOptions } from './types';

/**
 * node dist/sim/cli.js --fleet sim/fleets/hetero.json [--time-scale 0.1] [--base-port 11434] [--host 127.0.0.1]
 * node dist/sim/cli.js --nodes 3 [--slots 1] [--decode-tps 30] [--time-scale 0.1] [--base-port 11434]
 * Prints one line per node to stdout: name url models slots=N tps=N. Stops on SIGINT / SIGTERM.
 */

export const USAGE = `Usage:
  herd-sim --fleet <file.json> [--time-scale <x>] [--base-port <port>] [--host <addr>]
  herd-sim --nodes <n> [--slots <n>] [--decode-tps <n>] [--time-scale <x>] [--base-port <port>] [--host <addr>]

  --fleet       fleet file (see sim/fleets/*.json)
  --nodes       quick homogeneous fleet of n nodes serving llama3:latest (resident)
  --time-scale  multiply every simulated delay (1 = real time, 0.01 = 100x faster, 0 = instant); overrides the file
  --base-port   node i listens on base-port + i unless the file gives it a port (default: ephemeral ports)
  --host        address to listen on (default 127.0.0.1)
Prints one line per node: name url models slots=N tps=N`;

export interface CliArgs {
  fleet?: string;
  nodes?: number;
  slots?: number;
  decodeTps?: number;
  timeScale?: number;
  basePort?: number;
  host?: string;
  help: boolean;
}

function numberArg(flag: string, raw: string | undefined, integer: boolean, min: number): number {
  if (raw === undefined) throw new Error(`${flag} needs a value`);
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Error(`${flag} must be ${integer ? 'an integer' : 'a number'} >= ${min} (got "${raw}")`);
  }
  return value;
}

export function parseCliArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = { help: false };
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i];
    let inline: string | undefined;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq > 0) {
      inline = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--help':
      case '-h':
        args.help = true;
        break;
      case '--fleet':
        args.fleet = value();
        if (!args.fleet) throw new Error('--fleet needs a file');
        break;
      case '--nodes':
        args.nodes = numberArg(flag, value(), true, 1);
        break;
      case '--slots':
        args.slots = numberArg(flag, value(), true, 1);
        break;
      case '--decode-tps':
        args.decodeTps = numberArg(flag, value(), false, Number.MIN_VALUE);
        break;
      case '--time-scale':
        args.timeScale = numberArg(flag, value(), false, 0);
        break;
      case '--base-port':
        args.basePort = numberArg(flag, value(), true, 1);
        break;
      case '--host':
        args.host = value();
        if (!args.host) throw new Error('--host needs an address');
        break;
      default:
        throw new Error(`unknown argument "${argv[i]}"`);
    }
  }
  if (!args.help && (args.fleet === undefined) === (args.nodes === undefined)) {
    throw new Error('give either --fleet <file> or --nodes <n>');
  }
  return args;
}

/** The fleet the arguments describe, with CLI overrides applied. */
export function fleetFromArgs(args: CliArgs): SimFleetConfig {
  let config: SimFleetConfig;
  if (args.fleet !== undefined) {
    config = loadFleetFile(args.fleet);
  } else {
    const count = args.nodes ?? 1;
    config = {
      nodes: Array.from({ length: count }, (_, i) => ({
        name: `sim-${i + 1}`,
        models: [{ name: 'llama3:latest' }],
        resident: ['llama3:latest'],
        slots: args.slots ?? 1,
        decodeTps: args.decodeTps ?? NODE_DEFAULTS.decodeTps,
      })),
    };
  }
  const nodes = config.nodes.map((node, i): SimNodeOptions => {
    const out: SimNodeOptions = { ...node };
    if (args.timeScale !== undefined) out.timeScale = args.timeScale;
    if (args.host !== undefined) out.host = args.host;
    if (args.basePort !== undefined && !node.port) out.port = args.basePort + i;
    return out;
  });
  return { ...config, nodes };
}

/** One line per node: name url models slots=N tps=N. */
export function describeFleet(config: SimFleetConfig, fleet: SimFleet): string[] {
  return fleet.nodes.map((node, i) => {
    const opts = config.nodes[i];
    const models = opts.models.map((m) => m.name).join(',');
    const slots = opts.slots ?? NODE_DEFAULTS.slots;
    const tps = opts.decodeTps ?? NODE_DEFAULTS.decodeTps;
    return `${node.name}  ${node.url}  ${models}  slots=${slots}  tps=${tps}`;
  });
}

/** Starts the fleet the arguments describe and prints its nodes; the caller owns the returned fleet. */
export async function runCli(argv: readonly string[], print: (line: string) => void): Promise<SimFleet | null> {
  const args = parseCliArgs(argv);
  if (args.help) {
    print(USAGE);
    return null;
  }
  const config = fleetFromArgs(args);
  const fleet = await startSimFleet(config);
  for (const line of describeFleet(config, fleet)) print(line);
  return fleet;
}

function main(): void {
  runCli(process.argv.slice(2), (line) => process.stdout.write(line + '\n'))
    .then((fleet) => {
      if (!fleet) return;
      process.stderr.write(`herd-sim: ${fleet.nodes.length} node(s) ready; Ctrl-C to stop\n`);
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`herd-sim: ${signal}, stopping\n`);
        fleet.close().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`herd-sim: error while stopping: ${String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    })
    .catch((err: unknown) => {
      process.stderr.write(`herd-sim: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
      process.exit(2);
    });
}

if (require.main === module) main();
