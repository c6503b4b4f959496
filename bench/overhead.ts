import { Pool } from 'undici';
import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { spawnHerd, spawnSimNodes } from './lib/processes';
import { mean, percentile, table } from './lib/stats';

/**
 * Gateway overhead: the same requests straight to a simulated node and through Herd, with instant generation,
 * so what is left is Herd's own cost (HTTP, validation, Redis queue, scheduling, proxying).
 * Usage: npm run bench:overhead -- [--concurrency 1,16,64] [--requests 2000]
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

async function load(baseUrl: string, path: string, body: string, concurrency: number, total: number): Promise<Run> {
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
        await res.body.text();
        if (res.statusCode !== 200) errors++;
        latencies.push(performance.now() - t0);
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
  const body = JSON.stringify({ model: 'llama3', prompt: 'Say hi', stream: false, options: { num_predict: 8 } });
  const rows: (string | number)[][] = [];
  try {
    for (const c of levels) {
      // Warm both paths (connections, JIT, learned rates) before measuring.
      await load(sim.urls[0], '/api/generate', body, c, 200);
      await load(herd.url, '/ollama/generate', body, c, 200);
      const direct = await load(sim.urls[0], '/api/generate', body, c, total);
      const via = await load(herd.url, '/ollama/generate', body, c, total);
      const dP50 = percentile(direct.latencies, 50);
      const hP50 = percentile(via.latencies, 50);
      const dRps = direct.latencies.length / direct.seconds;
      const hRps = via.latencies.length / via.seconds;
      rows.push([c, 'direct', dP50, percentile(direct.latencies, 99), mean(direct.latencies), dRps, direct.errors, '']);
      rows.push([c, 'herd', hP50, percentile(via.latencies, 99), mean(via.latencies), hRps, via.errors, `+${(hP50 - dP50).toFixed(2)} ms p50, ${(hRps / dRps).toFixed(2)}x rps`]);
    }
  } finally {
    await herd.stop();
    await sim.stop();
    await redis.stop();
  }
  process.stdout.write(`\nPOST /ollama/generate through Herd vs /api/generate on the node directly (instant generation, ${total} requests per row, ${new Date().toISOString().slice(0, 10)})\n\n`);
  process.stdout.write(table(['concurrency', 'path', 'p50 ms', 'p99 ms', 'mean ms', 'req/s', 'errors', 'herd vs direct'], rows) + '\n');
}

void main();
