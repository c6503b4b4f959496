import { Pool } from 'undici';
import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { spawnHerd, spawnSimNodes } from './lib/processes';
import { percentile, table } from './lib/stats';

/**
 * Gateway overhead: the same requests straight to a simulated node and through Herd, with instant generation,
 * so what is left is Herd's own cost (HTTP, validation, Redis queue, scheduling, proxying).
 * Usage: npm run bench:overhead -- [--concurrency 1,16,64] [--requests 2000]
 * Measures whole non-streamed answers and, for streams, the time to the first chunk.
 */
interface Run {
  latencies: number[];
  seconds: number;
  errors: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
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

async function main(): Promise<void> {
  const levels = arg('concurrency', '1,16,64').split(',').map(Number);
  const total = Number(arg('requests', '2000'));
  const redis = await startEmbeddedRedis();
  const sim = await spawnSimNodes([{ name: 'bench', models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'], slots: 64, maxQueue: 10_000, timeScale: 0 }]);
  const herd = await spawnHerd({ REDIS_URL: redis.url, HERD_REDIS_PREFIX: `bench${Date.now()}` }, [{ name: 'bench', url: sim.urls[0], slots: 64 }]);
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
        // Warm both paths (connections, JIT, learned rates) before measuring.
        await load(sim.urls[0], '/api/generate', mode.body, c, 200, mode.firstChunk);
        await load(herd.url, mode.herdPath, mode.body, c, 200, mode.firstChunk);
        const direct = await load(sim.urls[0], '/api/generate', mode.body, c, total, mode.firstChunk);
        const via = await load(herd.url, mode.herdPath, mode.body, c, total, mode.firstChunk);
        const dP50 = percentile(direct.latencies, 50);
        const hP50 = percentile(via.latencies, 50);
        const dRps = direct.latencies.length / direct.seconds;
        const hRps = via.latencies.length / via.seconds;
        rows.push([mode.name, c, 'direct', dP50, percentile(direct.latencies, 99), dRps, direct.errors, '']);
        rows.push([mode.name, c, 'herd', hP50, percentile(via.latencies, 99), hRps, via.errors, `+${(hP50 - dP50).toFixed(2)} ms p50, ${(hRps / dRps).toFixed(2)}x req/s`]);
      }
    }
  } finally {
    await herd.stop();
    await sim.stop();
    await redis.stop();
  }
  process.stdout.write(`\nHerd (POST /ollama/generate; streams: POST /api/generate) vs /api/generate on the node directly; instant generation, 8 tokens, ${total} requests per row, ${new Date().toISOString().slice(0, 10)}\n\n`);
  process.stdout.write(table(['measure', 'concurrency', 'path', 'p50 ms', 'p99 ms', 'req/s', 'errors', 'herd vs direct'], rows) + '\n');
}

void main();
