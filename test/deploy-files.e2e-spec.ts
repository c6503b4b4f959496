/**
 * Checks the deployment files: docker-compose.yaml (both profiles), containers.config.json,
 * deploy/containers.sim.json, Dockerfile and .dockerignore.
 *
 * The compose model comes from, in order of preference:
 *   1. `docker compose config --format json` (Compose v2), with and without `--profile sim`;
 *   2. the YAML file itself, parsed with js-yaml, with profiles and `${VAR:-default}`
 *      resolved here (when `docker-compose` v1 exists it still validates the file);
 *   3. neither: only textual checks, with a warning.
 * No Docker engine is needed: `config` never talks to the daemon.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yaml');
const DEFAULT_SERVICES = ['herd', 'ollama-1', 'ollama-2', 'redis'];
const SIM_SERVICES = ['herd-sim', 'sim'];

type Dict = Record<string, unknown>;

interface Service {
  name: string;
  profiles: string[];
  image?: string;
  hasBuild: boolean;
  command: string[];
  dependsOn: Record<string, string>;
  environment: Record<string, string>;
  publishedPorts: number[];
  mounts: { source: string; target: string }[];
  healthcheck: string[];
  gpuDevices: boolean;
}

/** Runs a command with the compose-related environment cleared, so defaults are what is tested. */
function run(cmd: string, args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const env = { ...process.env };
  for (const key of ['COMPOSE_PROFILES', 'COMPOSE_FILE', 'COMPOSE_PROJECT_NAME', 'HERD_PORT', 'HERD_SIM_PORT', 'HERD_STRATEGY', 'LOG_LEVEL', 'OLLAMA_TAG', 'OLLAMA_NUM_PARALLEL']) {
    delete env[key];
  }
  const res = spawnSync(cmd, args, { cwd: ROOT, env, encoding: 'utf8', timeout: 20_000 });
  return { ok: !res.error && res.status === 0, stdout: res.stdout ?? '', stderr: res.stderr ?? String(res.error ?? '') };
}

function asDict(v: unknown): Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Dict) : {};
}

/** Scalars as compose writes them; anything else as JSON (never "[object Object]"). */
function str(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return v.toString();
  return JSON.stringify(v);
}

function asStringList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(str);
  if (typeof v === 'string') return v.trim() === '' ? [] : v.trim().split(/\s+/);
  return [];
}

/** `${VAR:-default}` / `${VAR-default}` / `${VAR}` → the default (or ''), recursively. */
function interpolateDefaults(v: unknown): unknown {
  if (typeof v === 'string') {
    return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, _name, def: string | undefined) => def ?? '');
  }
  if (Array.isArray(v)) return v.map(interpolateDefaults);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolateDefaults(x)]));
  }
  return v;
}

function hostPath(source: string): string {
  return source.startsWith('.') || source.startsWith('/') ? resolve(ROOT, source) : source;
}

function normalizeService(name: string, raw: Dict): Service {
  const dependsOn: Record<string, string> = {};
  if (Array.isArray(raw.depends_on)) {
    for (const d of raw.depends_on) dependsOn[str(d)] = 'service_started';
  } else {
    for (const [d, spec] of Object.entries(asDict(raw.depends_on))) {
      const condition = asDict(spec).condition;
      dependsOn[d] = typeof condition === 'string' ? condition : 'service_started';
    }
  }

  const environment: Record<string, string> = {};
  if (Array.isArray(raw.environment)) {
    for (const entry of raw.environment) {
      const [k, ...rest] = str(entry).split('=');
      environment[k] = rest.join('=');
    }
  } else {
    for (const [k, val] of Object.entries(asDict(raw.environment))) environment[k] = str(val);
  }

  const publishedPorts: number[] = [];
  for (const p of Array.isArray(raw.ports) ? raw.ports : []) {
    if (typeof p === 'string' || typeof p === 'number') {
      const parts = str(p).split('/')[0].split(':');
      if (parts.length >= 2) publishedPorts.push(Number(parts[parts.length - 2]));
    } else {
      const published = asDict(p).published;
      if (published !== undefined && published !== '') publishedPorts.push(Number(published));
    }
  }

  const mounts: { source: string; target: string }[] = [];
  for (const v of Array.isArray(raw.volumes) ? raw.volumes : []) {
    if (typeof v === 'string') {
      const [source, target] = v.split(':');
      if (target) mounts.push({ source: hostPath(source), target });
    } else {
      const d = asDict(v);
      mounts.push({ source: hostPath(str(d.source)), target: str(d.target) });
    }
  }

  const reservations = asDict(asDict(asDict(raw.deploy).resources).reservations);
  return {
    name,
    profiles: asStringList(raw.profiles),
    image: typeof raw.image === 'string' ? raw.image : undefined,
    hasBuild: raw.build !== undefined,
    command: asStringList(raw.command),
    dependsOn,
    environment,
    publishedPorts,
    mounts,
    healthcheck: asStringList(asDict(raw.healthcheck).test),
    gpuDevices: Array.isArray(reservations.devices) && reservations.devices.length > 0,
  };
}

/** Services enabled for a set of active profiles (a service without profiles is always enabled). */
function enabledFor(all: Record<string, Service>, profiles: string[]): Record<string, Service> {
  return Object.fromEntries(
    Object.entries(all).filter(([, s]) => s.profiles.length === 0 || s.profiles.some((p) => profiles.includes(p))),
  );
}

/** What `docker compose up <target>` starts: the target and, transitively, what it depends on. */
function closure(all: Record<string, Service>, target: string): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const dep of Object.keys(all[name]?.dependsOn ?? {})) visit(dep);
  };
  visit(target);
  return [...seen].sort();
}

function loadYamlParser(): ((text: string) => unknown) | undefined {
  try {
    // js-yaml is present through jest/eslint; not a declared dependency, hence the guard.
    const mod = createRequire(__filename)('js-yaml') as { load?: (text: string) => unknown };
    return typeof mod.load === 'function' ? mod.load : undefined;
  } catch {
    return undefined;
  }
}

type Source = 'compose-v2' | 'yaml' | 'text-only';

interface Models {
  source: Source;
  /** Services enabled with no profile active. */
  base?: Record<string, Service>;
  /** Services enabled with `--profile sim`. */
  sim?: Record<string, Service>;
}

function loadModels(): Models {
  const toServices = (doc: unknown, profiles: string[]) => {
    const services = asDict(asDict(doc).services);
    const all = Object.fromEntries(Object.entries(services).map(([n, s]) => [n, normalizeService(n, asDict(s))]));
    return enabledFor(all, profiles);
  };

  if (run('docker', ['compose', 'version']).ok) {
    const base = run('docker', ['compose', '-f', COMPOSE_FILE, 'config', '--format', 'json']);
    const sim = run('docker', ['compose', '-f', COMPOSE_FILE, '--profile', 'sim', 'config', '--format', 'json']);
    if (!base.ok) throw new Error(`docker compose config failed:\n${base.stderr}`);
    if (!sim.ok) throw new Error(`docker compose --profile sim config failed:\n${sim.stderr}`);
    return {
      source: 'compose-v2',
      base: toServices(JSON.parse(base.stdout), []),
      sim: toServices(JSON.parse(sim.stdout), ['sim']),
    };
  }

  console.warn(
    'deploy-files: the Docker Compose v2 plugin (`docker compose`) is not available; ' +
      'checking docker-compose.yaml by parsing it here instead of with `docker compose config`.',
  );
  const parse = loadYamlParser();
  if (!parse) {
    console.warn('deploy-files: js-yaml is not installed either; only textual checks of docker-compose.yaml run.');
    return { source: 'text-only' };
  }
  const doc = interpolateDefaults(parse(readFileSync(COMPOSE_FILE, 'utf8')));
  return { source: 'yaml', base: toServices(doc, []), sim: toServices(doc, ['sim']) };
}

function readNodes(file: string): { name: string; url: string }[] {
  const parsed: unknown = JSON.parse(readFileSync(join(ROOT, file), 'utf8'));
  expect(Array.isArray(parsed)).toBe(true);
  const nodes = parsed as unknown[];
  expect(nodes.length).toBeGreaterThan(0);
  for (const n of nodes) {
    const entry = asDict(n);
    expect(typeof entry.name).toBe('string');
    expect(entry.name).toMatch(/^[A-Za-z0-9_.:-]{1,64}$/);
    expect(typeof entry.url).toBe('string');
    expect(entry.url).toMatch(/^https?:\/\/[^\s/]+(:\d+)?\/?$/);
  }
  const names = nodes.map((n) => str(asDict(n).name));
  expect(new Set(names).size).toBe(names.length);
  return nodes.map((n) => ({ name: str(asDict(n).name), url: str(asDict(n).url) }));
}

function argAfter(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

describe('deployment files', () => {
  let models: Models;

  beforeAll(() => {
    expect(existsSync(COMPOSE_FILE)).toBe(true);
    models = loadModels();
  });

  it('docker-compose.yaml is valid for docker-compose v1 too, when it is installed', () => {
    if (!run('docker-compose', ['version']).ok) return;
    for (const profileArgs of [[], ['--profile', 'sim']]) {
      const res = run('docker-compose', ['-f', COMPOSE_FILE, ...profileArgs, 'config', '-q']);
      expect({ args: profileArgs, ok: res.ok, stderr: res.ok ? '' : res.stderr }).toEqual({ args: profileArgs, ok: true, stderr: '' });
    }
  });

  it('redis keeps the queue: AOF on, noeviction, healthcheck, volume (textual)', () => {
    const text = readFileSync(COMPOSE_FILE, 'utf8');
    expect(text).toMatch(/--appendonly\s*\n?\s*-?\s*"?yes"?/);
    expect(text).toContain('noeviction');
    expect(text).toContain('redis:7-alpine');
    expect(text).toMatch(/profiles:\s*\[?\s*"?sim"?/);
  });

  it('redis service: AOF on, noeviction, healthcheck, /data volume', () => {
    if (!models.base) return;
    const redis = models.base.redis;
    expect(redis).toBeDefined();
    expect(redis.image).toMatch(/^redis:7/);
    expect(argAfter(redis.command, '--appendonly')).toBe('yes');
    expect(argAfter(redis.command, '--maxmemory-policy')).toBe('noeviction');
    expect(redis.healthcheck.join(' ')).toContain('ping');
    expect(redis.mounts.map((m) => m.target)).toContain('/data');
  });

  it('default profile: redis, herd and two Ollama servers, herd waiting for a healthy redis', () => {
    if (!models.base) return;
    expect(Object.keys(models.base).sort()).toEqual(DEFAULT_SERVICES);

    const herd = models.base.herd;
    expect(herd.hasBuild).toBe(true);
    expect(herd.dependsOn.redis).toBe('service_healthy');
    expect(herd.environment.REDIS_URL).toBe('redis://redis:6379');
    expect(herd.publishedPorts).toContain(3000);
    const config = herd.mounts.find((m) => m.target === herd.environment.CONTAINERS_CONFIG);
    expect(config?.source).toBe(join(ROOT, 'containers.config.json'));

    for (const name of ['ollama-1', 'ollama-2']) {
      expect(models.base[name].image).toMatch(/^ollama\/ollama/);
      expect(models.base[name].environment.OLLAMA_NUM_PARALLEL).toMatch(/^\d+$/);
      expect(models.base[name].mounts.some((m) => m.target === '/root/.ollama')).toBe(true);
    }
  });

  it('sim profile: a simulator and a herd-sim that talks only to it', () => {
    if (!models.sim) return;
    for (const name of [...DEFAULT_SERVICES, ...SIM_SERVICES]) expect(models.sim[name]).toBeDefined();

    const sim = models.sim.sim;
    expect(sim.profiles).toEqual(['sim']);
    expect(sim.command.join(' ')).toContain('dist/sim/cli.js');
    // Simulated nodes bind 127.0.0.1 unless told otherwise; herd-sim reaches them over the network.
    expect(argAfter(sim.command, '--host')).toBe('0.0.0.0');
    // The image's HEALTHCHECK probes herd's /health; the simulator must override it.
    expect(sim.healthcheck.length).toBeGreaterThan(0);
    expect(sim.healthcheck.join(' ')).not.toContain('/health');

    const herdSim = models.sim['herd-sim'];
    expect(herdSim.profiles).toEqual(['sim']);
    expect(herdSim.image).toBe(models.sim.herd.image);
    expect(sim.image).toBe(models.sim.herd.image);
    expect(herdSim.dependsOn.redis).toBe('service_healthy');
    expect(Object.keys(herdSim.dependsOn)).toContain('sim');
    expect(herdSim.environment.REDIS_URL).toBe('redis://redis:6379');
    const config = herdSim.mounts.find((m) => m.target === herdSim.environment.CONTAINERS_CONFIG);
    expect(config?.source).toBe(join(ROOT, 'deploy/containers.sim.json'));
    // Both gateways may share the redis server, so they must not share a queue.
    expect(herdSim.environment.HERD_REDIS_PREFIX).toBeTruthy();
    expect(herdSim.environment.HERD_REDIS_PREFIX).not.toBe(models.sim.herd.environment.HERD_REDIS_PREFIX ?? 'herd');

    // `docker compose --profile sim up herd-sim` starts only the GPU-free stack.
    expect(closure(models.sim, 'herd-sim')).toEqual(['herd-sim', 'redis', 'sim']);
  });

  it('profiles and depends_on agree, host ports do not clash, no service needs a GPU', () => {
    for (const services of [models.base, models.sim]) {
      if (!services) continue;
      for (const s of Object.values(services)) {
        for (const dep of Object.keys(s.dependsOn)) {
          expect({ service: s.name, dependsOn: dep, enabled: dep in services }).toEqual({ service: s.name, dependsOn: dep, enabled: true });
        }
        expect({ service: s.name, gpu: s.gpuDevices }).toEqual({ service: s.name, gpu: false });
      }
      const ports = Object.values(services).flatMap((s) => s.publishedPorts);
      expect(new Set(ports).size).toBe(ports.length);
    }
  });

  it('containers.config.json lists the compose Ollama servers, each with name and url', () => {
    const nodes = readNodes('containers.config.json');
    expect(nodes.map((n) => n.name).sort()).toEqual(['ollama-1', 'ollama-2']);
    if (!models.base) return;
    for (const n of nodes) expect(Object.keys(models.base)).toContain(new URL(n.url).hostname);
  });

  it('deploy/containers.sim.json points at distinct ports of the sim service', () => {
    const nodes = readNodes('deploy/containers.sim.json');
    const urls = nodes.map((n) => new URL(n.url));
    expect(new Set(urls.map((u) => u.port)).size).toBe(urls.length);
    for (const u of urls) expect(u.hostname).toBe('sim');
    if (!models.sim) return;
    const basePort = Number(argAfter(models.sim.sim.command, '--base-port'));
    const count = Number(argAfter(models.sim.sim.command, '--nodes'));
    expect(urls.map((u) => Number(u.port)).sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => basePort + i));
  });

  it('Dockerfile: multi-stage build, slim non-root runtime with a healthcheck', () => {
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(text.match(/^FROM\s/gm)?.length ?? 0).toBeGreaterThanOrEqual(2);
    expect(text).toContain('node:20-bookworm-slim');
    expect(text).toContain('npm run build');
    expect(text).toMatch(/npm ci[^\n]*\|\|\s*npm install/);
    expect(text).toMatch(/^USER\s+(?!root\b)\S+/m);
    expect(text).toMatch(/^EXPOSE\s+3000\b/m);
    expect(text).toMatch(/^HEALTHCHECK\b[\s\S]*\/health/m);
    expect(text).toMatch(/^CMD\s+\["node",\s*"dist\/src\/main\.js"\]/m);

    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const entry of ['node_modules', 'dist', '.git']) expect(ignore).toContain(entry);
  });

  it('every variable Herd reads is documented in .env.example and the README, and compose passes the security ones', () => {
    const dto = readFileSync(join(ROOT, 'src/config/env.dto.ts'), 'utf8');
    const names = [...dto.matchAll(/^\s+([A-Z][A-Z0-9_]+)\?:/gm)].map((m) => m[1]);
    expect(names).toEqual(expect.arrayContaining(['HERD_ADMIN_KEY', 'HERD_NODE_KEY', 'HERD_NODE_URL_ALLOW']));
    const example = readFileSync(join(ROOT, '.env.example'), 'utf8');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const name of names) {
      expect({ name, inEnvExample: new RegExp(`^#?\\s*${name}=`, 'm').test(example) }).toEqual({ name, inEnvExample: true });
      expect({ name, inReadme: readme.includes(`\`${name}\``) }).toEqual({ name, inReadme: true });
    }
    // Herd binds 0.0.0.0 in compose, where admin routes are locked without a key: the keys must reach it.
    for (const services of [models.base, models.sim]) {
      if (!services) continue;
      for (const name of ['herd', 'herd-sim']) {
        if (!services[name]) continue;
        for (const v of ['HERD_ADMIN_KEY', 'HERD_NODE_KEY', 'HERD_NODE_URL_ALLOW']) expect(Object.keys(services[name].environment)).toContain(v);
      }
    }
  });

  it('reports where the compose model came from', () => {
    expect(['compose-v2', 'yaml', 'text-only']).toContain(models.source);
  });
});
