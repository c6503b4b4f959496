import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { arg } from './lib/cli';
import { spawnBareProxy, spawnHerd, spawnSimNodes } from './lib/processes';
import { percentile, table } from './lib/stats';

/**
 * Gateway overhead: the same requests straight to a simulated node and through Herd, with instant generation,
 * so what is left is Herd's own cost (HTTP, validation, Redis queue, scheduling, proxying).
 * Usage: npm run bench:overhead -- [--concurrency 1,16,64] [--requests 2000]
 * Measures whole non-streamed answers and, for streams, the time to the first chunk. Beside Herd it runs the
 * thinnest possible Node.js proxy (lib/bare-proxy.ts): on a machine where the load generator, the node and the
 * gateway share the same cores, that proxy is the ceiling for any Node.js gateway, Herd included.
 */
interface Run {
  latencies: number[];
  seconds: number;
  errors: number;
}


/** Time to the first body chunk when `firstChunk` is set (streams), else to the whole answer. */
async function load(baseUrl: string, path: string, body: string, concurrency: number, total: number, firstChunk = false): Promise<Run> {
  const pool = new Pool(baseUrl, { connections: concurrency, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const t0 = performance.now();
        const res = await pool.request({ method: 'POST', path, body, headers: { 'content-type': 'application/json' } });
        let first: number | undefined;
        for await (const _chunk of res.body) first ??= performance.now();
        if (res.statusCode !== 200) errors++;
        latencies.push((firstChunk ? (first ?? performance.now()) : performance.now()) - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return { latencies, seconds, errors };
}

/** CPU time (user + system) a process has used, in ms; undefined where /proc is missing. */
function cpuMs(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
  } catch {
    return undefined;
  }
}

/** A load run through a gateway process, with that process' CPU time per request. */
async function loadVia(pid: number | undefined, ...args: Parameters<typeof load>): Promise<Run & { cpuMsPerRequest?: number }> {
  const before = cpuMs(pid);
  const run = await load(...args);
  const after = cpuMs(pid);
  return { ...run, cpuMsPerRequest: before !== undefined && after !== undefined ? (after - before) / run.latencies.length : undefined };
}

async function main(): Promise<void> {
  const levels = (arg('concurrency') ?? '1,16,64').split(',').map(Number);
  const total = Number(arg('requests') ?? '2000');
  const redis = await startEmbeddedRedis();
  const sim = await spawnSimNodes([{ name: 'bench', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], slots: 64, maxQueue: 10_000, timeScale: 0 }]);
  const herd = await spawnHerd({ REDIS_URL: redis.url, HERD_REDIS_PREFIX: `bench${Date.now()}` }, [{ name: 'bench', url: sim.urls[0], slots: 64 }]);
  const bare = await spawnBareProxy(sim.urls[0]);
  const whole = JSON.stringify({ model: 'llama3', prompt: 'Say hi', stream: false, options: { num_predict: 8 } });
  const streamed = JSON.stringify({ model: 'llama3', prompt: 'Say hi', stream: true, options: { num_predict: 8 } });
  const modes = [
    { name: 'whole answer', body: whole, herdPath: '/ollama/generate', firstChunk: false },
    { name: 'stream, first chunk', body: streamed, herdPath: '/api/generate', firstChunk: true },
  ];
  const rows: (string | number)[][] = [];
  try {
    for (const mode of modes) {
      for (const c of levels) {
        // Warm every path (connections, JIT, learned rates) before measuring.
        await load(sim.urls[0], '/api/generate', mode.body, c, 200, mode.firstChunk);
        await load(bare.url, '/api/generate', mode.body, c, 200, mode.firstChunk);
        await load(herd.url, mode.herdPath, mode.body, c, 200, mode.firstChunk);
        const direct = await load(sim.urls[0], '/api/generate', mode.body, c, total, mode.firstChunk);
        const thin = await loadVia(bare.child.pid, bare.url, '/api/generate', mode.body, c, total, mode.firstChunk);
        const via = await loadVia(herd.child.pid, herd.url, mode.herdPath, mode.body, c, total, mode.firstChunk);
        const dP50 = percentile(direct.latencies, 50);
        const dRps = direct.latencies.length / direct.seconds;
        rows.push([mode.name, String(c), 'direct', dP50, percentile(direct.latencies, 99), dRps, String(direct.errors), '-', '']);
        for (const [name, run] of [['bare node proxy', thin], ['herd', via]] as const) {
          const p50 = percentile(run.latencies, 50);
          const rps = run.latencies.length / run.seconds;
          const cpu = run.cpuMsPerRequest ?? NaN;
          rows.push([mode.name, String(c), name, p50, percentile(run.latencies, 99), rps, String(run.errors), cpu, `+${(p50 - dP50).toFixed(2)} ms p50, ${(rps / dRps).toFixed(2)}x req/s`]);
        }
      }
    }
  } finally {
    await herd.stop();
    await bare.stop();
    await sim.stop();
    await redis.stop();
  }
  process.stdout.write(`\nHerd (POST /ollama/generate; streams: POST /api/generate) vs /api/generate on the node directly; instant generation, 8 tokens, ${total} requests per row, ${new Date().toISOString().slice(0, 10)}\n\n`);
  process.stdout.write(table(['measure', 'concurrency', 'path', 'p50 ms', 'p99 ms', 'req/s', 'errors', 'gateway CPU ms/req', 'vs direct'], rows) + '\n');
}

void main();
