/**
 * k6 load test for Herd's Ollama-compatible streaming chat: POST /api/chat with stream: true.
 *
 *   k6 run k6/stream-chat.ts
 *   HERD_URL=http://localhost:3001 k6 run k6/stream-chat.ts
 *
 * k6 reads the whole NDJSON stream before handing the response over, so the script checks
 * the stream's shape (JSON lines, a final {"done": true}) and uses http_req_waiting (time to
 * first byte) as the "time to first token" a streaming client sees.
 *
 * Two scenarios run one after the other, both bounded in time and in count:
 *   steady - constant-vus for HOLD_S seconds (iterations capped by MAX_REQUESTS),
 *   burst  - a shared-iterations burst of BURST requests with a maxDuration.
 */
import http from 'k6/http';
import exec from 'k6/execution';
import { check, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import { BASE_URL, MODEL, envInt } from './env.ts';

/** Concurrent streaming clients in the steady scenario. */
const VUS = envInt('VUS', 5, 1, 500);
/** Seconds the steady scenario runs. */
const HOLD_S = envInt('HOLD_S', 30, 1, 3600);
/** Requests in the burst scenario (0 skips it). */
const BURST = envInt('BURST', 12, 0, 100_000);
/** Hard cap on requests per scenario. */
const MAX_REQUESTS = envInt('MAX_REQUESTS', 1000, 1, 1_000_000);
/** Tokens the model is asked to generate per request. */
const NUM_PREDICT = envInt('NUM_PREDICT', 64, 1, 4096);
/** p(95) bounds, in ms, on time to first byte and on the whole stream. */
const TTFB_P95_MS = envInt('TTFB_P95_MS', 15_000, 1, 3_600_000);
const P95_MS = envInt('P95_MS', 60_000, 1, 3_600_000);
/** Per-request client timeout in seconds. */
const TIMEOUT_S = envInt('TIMEOUT_S', 180, 1, 3600);

const chunks = new Trend('herd_stream_chunks');
const streamTokens = new Counter('herd_stream_eval_tokens');

const scenarios: NonNullable<Options['scenarios']> = {
  steady: {
    executor: 'constant-vus',
    vus: VUS,
    duration: `${HOLD_S}s`,
    gracefulStop: `${TIMEOUT_S}s`,
  },
};
if (BURST > 0) {
  scenarios.burst = {
    executor: 'shared-iterations',
    vus: Math.min(BURST, Math.max(VUS * 4, 1), 500),
    iterations: Math.min(BURST, MAX_REQUESTS),
    maxDuration: `${TIMEOUT_S * 2}s`,
    startTime: `${HOLD_S + 5}s`,
    gracefulStop: `${TIMEOUT_S}s`,
  };
}

export const options: Options = {
  scenarios,
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_waiting: [`p(95)<${TTFB_P95_MS}`],
    http_req_duration: [`p(95)<${P95_MS}`],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

const QUESTIONS = [
  'What does a load balancer do?',
  'Summarise the idea of a priority queue in two sentences.',
  'Count from one to ten in French.',
  'What is the difference between latency and throughput?',
];

interface ChatChunk {
  message?: { role?: unknown; content?: unknown };
  done?: unknown;
  eval_count?: unknown;
  error?: unknown;
}

function parseNdjson(text: string): ChatChunk[] | undefined {
  const out: ChatChunk[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as ChatChunk);
    } catch {
      return undefined;
    }
  }
  return out;
}

export default function streamChat(): void {
  // Bounded in count: iterations past the cap wait a little instead of sending.
  if (exec.scenario.iterationInTest >= MAX_REQUESTS) {
    sleep(1);
    return;
  }

  const payload = JSON.stringify({
    model: MODEL,
    messages: [{ role: 'user', content: QUESTIONS[Math.floor(Math.random() * QUESTIONS.length)] }],
    stream: true,
    options: { num_predict: NUM_PREDICT },
  });
  const res = http.post(`${BASE_URL}/api/chat`, payload, {
    headers: { 'Content-Type': 'application/json' },
    timeout: `${TIMEOUT_S}s`,
    tags: { name: 'POST /api/chat (stream)' },
  });

  const body = typeof res.body === 'string' ? res.body : '';
  const parsed = res.status === 200 ? parseNdjson(body) : undefined;
  const last = parsed && parsed.length > 0 ? parsed[parsed.length - 1] : undefined;

  check(res, {
    'status is 200': (r) => r.status === 200,
    'stream is NDJSON': () => parsed !== undefined && parsed.length > 0,
    'stream ends with done': () => last?.done === true && last.error === undefined,
    'chunks carry message content': () =>
      parsed !== undefined && parsed.some((c) => typeof c.message?.content === 'string'),
  });

  if (parsed) chunks.add(parsed.length);
  if (typeof last?.eval_count === 'number') streamTokens.add(last.eval_count);
}
