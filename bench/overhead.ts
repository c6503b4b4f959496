import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Pool } from 'undici';
import { countTokens } from '../sim';
import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { arg } from './lib/cli';
import { type Child, spawnBareProxy, spawnGoStyleNode, spawnHerd, spawnSimNodes, spawnStackFloor } from './lib/processes';
import { percentile, table } from './lib/stats';

const USAGE = `Gateway overhead: the same requests straight to an Ollama node ("direct") and through Herd, so what is added
is Herd's own cost (HTTP, validation, Redis queue, scheduling, proxying). Beside Herd it runs the thinnest
possible Node.js proxy (bench/lib/bare-proxy.ts): on a machine where the load generator, the node and the
gateway share the same cores, that proxy is the ceiling for any Node.js gateway, Herd included. And the floor of
the product's fixed stack (bench/lib/stack-floor.ts: NestJS on Express, class-validator, a slot lease reserved and
released in Redis by a script, undici; no queue, scheduler, metrics or logs): what any gateway built on that stack
costs at the least.

Usage: npm run bench:overhead -- [options]

  --nodes LIST          node kinds, measured in this order (default instant,sim-2ms,go,go-2ms):
                          instant (or sim)  the simulator (sim/), instant generation
                          sim-<S>ms         the simulator taking S ms per answer: prefill S/2, then the tokens
                                            over S/2 (one slot per request, no slowdown with load)
                          go                bench/lib/go-style-node.ts: Ollama's Go HTTP framing (one write per
                                            whole answer with Content-Length; one chunk per NDJSON line), instant
                          go-<S>ms          the same, S ms per answer (streams: the tokens spread over S)
                        Node timers have 1 ms resolution, so a node with a service time takes a bit longer
                        than S: read its "direct" rows.
  --concurrency LIST    requests in flight (default 1,16; 64 is the old third level)
  --requests N          requests per row for instant nodes (default 2000)
  --slow-requests N     requests per row for nodes with a service time (default: --requests / 2)
  --tokens N            num_predict of every request (default 8)
  --max-seconds N       time cap of every load loop, warm-ups included (default 30): a row may hold fewer requests
  --baseline DIR        also measure a second Herd built from another checkout (DIR/dist/src/main.js, same Redis,
                        own key prefix), shown as "herd (baseline)". Its runs alternate with this checkout's
                        (half, half, half, half: ABBA), so before/after come from the same run on the same machine.
  --help                this text

Measures: whole non-streamed answers (Herd: POST /ollama/generate), and streams (Herd: POST /api/generate),
the time to the first chunk and to the end of the stream (both from the same requests). Every row: p50/p99
latency, req/s, errors; gateways also with their own CPU time per request (user + system, from /proc).
Only loopback traffic; every load loop is bounded in count and time.`;

interface Run {
  /** Time to the first body chunk of each successful request, ms. */
  first: number[];
  /** Time to the end of the body, ms. */
  end: number[];
  seconds: number;
  errors: number;
  /** The gateway's CPU time over the run, ms (undefined for direct runs or without /proc). */
  cpuMs?: number;
}

interface Target {
  name: string;
  url: string;
  /** Gateway process whose CPU time is read around each run. */
  pid?: number;
  /** Herd serves whole answers under /ollama/generate; nodes and the bare proxy under /api/generate. */
  herd: boolean;
}

interface Mode {
  name: string;
  body: string;
  stream: boolean;
}

interface NodeKind {
  label: string;
  serviceMs: number;
  go: boolean;
}

/** CPU time (user + system) a process has used, in ms; undefined where /proc is missing. */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

/** `total` requests (or fewer, when `maxMs` runs out) with `concurrency` in flight, through `target`. */
async function load(target: Target, mode: Mode, concurrency: number, total: number, maxMs: number): Promise<Run> {
  const path = target.herd && !mode.stream ? '/ollama/generate' : '/api/generate';
  const pool = new Pool(target.url, { connections: concurrency, pipelining: 1, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const run: Run = { first: [], end: [], seconds: 0, errors: 0 };
  const cpuBefore = cpuMs(target.pid);
  const started = performance.now();
  const deadline = started + maxMs;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total && performance.now() < deadline) {
        next++;
        const t0 = performance.now();
        try {
          const res = await pool.request({ method: 'POST', path, body: mode.body, headers: { 'content-type': 'application/json' } });
          let first: number | undefined;
          for await (const _chunk of res.body) first ??= performance.now();
          const end = performance.now();
          if (res.statusCode !== 200) {
            run.errors++;
            continue;
          }
          run.first.push((first ?? end) - t0);
          run.end.push(end - t0);
        } catch {
          run.errors++;
        }
      }
    }),
  );
  run.seconds = (performance.now() - started) / 1000;
  const cpuAfter = cpuMs(target.pid);
  if (cpuBefore !== undefined && cpuAfter !== undefined) run.cpuMs = cpuAfter - cpuBefore;
  await pool.close();
  return run;
}

function merge(a: Run | undefined, b: Run): Run {
  if (!a) return b;
  const cpu = a.cpuMs !== undefined && b.cpuMs !== undefined ? a.cpuMs + b.cpuMs : undefined;
  return { first: [...a.first, ...b.first], end: [...a.end, ...b.end], seconds: a.seconds + b.seconds, errors: a.errors + b.errors, cpuMs: cpu };
}

function parseKind(text: string): NodeKind {
  const m = /^(instant|sim|go)(?:-(\d+(?:\.\d+)?)ms)?$/.exec(text.trim());
  if (!m || (m[1] === 'instant' && m[2] !== undefined)) throw new Error(`--nodes: unknown node kind "${text}" (instant, sim-<S>ms, go, go-<S>ms)`);
  const serviceMs = Number(m[2] ?? '0');
  const go = m[1] === 'go';
  return { label: serviceMs > 0 ? `${m[1]}-${m[2]}ms` : go ? 'go' : 'instant', serviceMs, go };
}

const PROMPT = 'Say hi';

/** The node of one kind, as its own process. */
async function startNode(kind: NodeKind, tokens: number): Promise<{ url: string; stop(): Promise<void> }> {
  if (kind.go) return spawnGoStyleNode(kind.serviceMs, tokens);
  const timing =
    kind.serviceMs > 0
      ? // Half the service time in prefill, half spread over the tokens; plenty of slots, no slowdown with load.
        { timeScale: 1, prefillTps: (countTokens(PROMPT) * 1000) / (kind.serviceMs / 2), decodeTps: (tokens * 1000) / (kind.serviceMs / 2), parallelSlowdown: 0 }
      : { timeScale: 0 };
  const sim = await spawnSimNodes([{ name: 'bench', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], slots: 64, maxQueue: 10_000, ...timing }]);
  return { url: sim.urls[0], stop: sim.stop };
}

function describe(n: number): string {
  return Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${n.toFixed(2)} ms p50` : '-';
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const kinds = (arg('nodes') ?? 'instant,sim-2ms,go,go-2ms').split(',').map(parseKind);
  const levels = (arg('concurrency') ?? '1,16').split(',').map(Number);
  const requests = Number(arg('requests') ?? '2000');
  const slowRequests = Number(arg('slow-requests') ?? String(Math.ceil(requests / 2)));
  const tokens = Number(arg('tokens') ?? '8');
  const maxMs = Number(arg('max-seconds') ?? '30') * 1000;
  const baselineDir = arg('baseline');
  const baselineMain = baselineDir ? join(resolve(baselineDir), 'dist/src/main.js') : undefined;
  if (baselineMain && !existsSync(baselineMain)) throw new Error(`--baseline: ${baselineMain} not found (build that checkout first)`);
  for (const [name, v] of [['concurrency', Math.min(...levels)], ['requests', requests], ['slow-requests', slowRequests], ['tokens', tokens]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  }
  if (!(maxMs > 0)) throw new Error('--max-seconds must be a positive number');

  const options = { num_predict: tokens };
  const modes: Mode[] = [
    { name: 'whole answer', body: JSON.stringify({ model: 'llama3', prompt: PROMPT, stream: false, options }), stream: false },
    { name: 'stream', body: JSON.stringify({ model: 'llama3', prompt: PROMPT, stream: true, options }), stream: true },
  ];
  const redis = await startEmbeddedRedis();
  const rows: (string | number)[][] = [];
  const startedAt = Date.now();
  try {
    for (const kind of kinds) {
      const total = kind.serviceMs > 0 ? slowRequests : requests;
      const node = await startNode(kind, tokens);
      const gateways: Child[] = [];
      try {
        const nodes = [{ name: 'bench', url: node.url, slots: 64 }];
        const prefix = `bench${Date.now()}`;
        const started = await Promise.allSettled([
          spawnHerd({ REDIS_URL: redis.url, HERD_REDIS_PREFIX: `${prefix}a` }, nodes),
          spawnBareProxy(node.url),
          spawnStackFloor(node.url, redis.url),
          ...(baselineMain ? [spawnHerd({ REDIS_URL: redis.url, HERD_REDIS_PREFIX: `${prefix}b` }, nodes, baselineMain)] : []),
        ]);
        for (const s of started) if (s.status === 'fulfilled') gateways.push(s.value);
        for (const s of started) if (s.status === 'rejected') throw s.reason;
        const [herd, bare, floor, base] = gateways as [Child, Child, Child, Child | undefined];
        const direct: Target = { name: 'direct', url: node.url, herd: false };
        const thin: Target = { name: 'bare node proxy', url: bare.url, pid: bare.child.pid, herd: false };
        const mine: Target = { name: 'herd', url: herd.url, pid: herd.child.pid, herd: true };
        const before: Target | undefined = base && { name: 'herd (baseline)', url: base.url, pid: base.child.pid, herd: true };
        const stack: Target = { name: 'stack floor', url: floor.url, pid: floor.child.pid, herd: false };
        const targets = [direct, thin, stack, mine, ...(before ? [before] : [])];
        for (const mode of modes) {
          for (const c of levels) {
            process.stderr.write(`${kind.label}, ${mode.name}, concurrency ${c}: ${total} requests per path\n`);
            // Warm every path (connections, JIT, learned rates) before measuring.
            for (const t of targets) await load(t, mode, c, Math.min(200, total), maxMs);
            const runs = new Map<string, Run>();
            runs.set('direct', await load(direct, mode, c, total, maxMs));
            runs.set(thin.name, await load(thin, mode, c, total, maxMs));
            runs.set(stack.name, await load(stack, mode, c, total, maxMs));
            // With a baseline, A B B A in halves, so a drift of the machine weighs on both alike.
            const order = before ? [mine, before, before, mine] : [mine];
            const share = before ? Math.ceil(total / 2) : total;
            for (const t of order) runs.set(t.name, merge(runs.get(t.name), await load(t, mode, c, share, maxMs / (before ? 2 : 1))));
            for (const [measure, pick] of mode.stream
              ? ([['stream, first chunk', (r: Run) => r.first], ['stream, whole', (r: Run) => r.end]] as const)
              : ([['whole answer', (r: Run) => r.end]] as const)) {
              const d = runs.get('direct')!;
              const dP50 = percentile(pick(d), 50);
              const dRps = pick(d).length / d.seconds;
              for (const t of targets) {
                const r = runs.get(t.name)!;
                const n = pick(r).length;
                const p50 = percentile(pick(r), 50);
                const rps = n / r.seconds;
                const cpu = t.pid !== undefined && r.cpuMs !== undefined ? r.cpuMs / Math.max(1, n + r.errors) : t.pid !== undefined ? NaN : '-';
                const vs = t === direct ? '' : `${describe(p50 - dP50)}, ${(rps / dRps).toFixed(2)}x req/s`;
                rows.push([kind.label, measure, String(c), t.name, String(n), p50, percentile(pick(r), 99), rps, String(r.errors), cpu, vs]);
              }
            }
          }
        }
      } finally {
        await Promise.all(gateways.map((g) => g.stop()));
        await node.stop();
      }
    }
  } finally {
    await redis.stop();
  }
  const minutes = ((Date.now() - startedAt) / 60_000).toFixed(1);
  process.stdout.write(
    `\nHerd (whole: POST /ollama/generate; streams: POST /api/generate) vs /api/generate on the node directly; ${tokens} tokens per answer, ` +
      `${requests} requests per row (${slowRequests} for nodes with a service time), ${new Date().toISOString().slice(0, 10)}, ${minutes} min` +
      (baselineDir ? `; baseline: ${baselineDir}` : '') +
      '\n\n',
  );
  process.stdout.write(
    table(['node', 'measure', 'concurrency', 'path', 'requests', 'p50 ms', 'p99 ms', 'req/s', 'errors', 'gateway CPU ms/req', 'vs direct'], rows) + '\n',
  );
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
