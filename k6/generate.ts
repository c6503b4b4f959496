/**
 * k6 load test for Herd's headline endpoint: POST /ollama/generate (non-streaming).
 *
 *   k6 run k6/generate.ts                                   # against http://localhost:3000
 *   HERD_URL=http://localhost:3001 k6 run k6/generate.ts    # the compose `sim` stack
 *
 * Every knob is an environment variable read through __ENV (see k6/README.md). The run is
 * bounded twice: the arrival-rate stages end after RAMP_S + HOLD_S + RAMP_S seconds (plus
 * a graceful stop), and no VU sends anything once MAX_REQUESTS iterations have started.
 */
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import { BASE_URL, MODEL, envInt } from './env.ts';

/**
 * Requests started per second at the plateau. The default fits the compose `sim` stack
 * (3 simulated nodes, 1 slot each, ~30 tokens/s): about 2.7 requests/s of 32 tokens.
 */
const RATE = envInt('RATE', 2, 1, 1000);
/** Seconds to ramp up (and, again, to ramp down). */
const RAMP_S = envInt('RAMP_S', 10, 0, 600);
/** Seconds at the plateau rate. */
const HOLD_S = envInt('HOLD_S', 30, 1, 3600);
/** Hard cap on requests in the whole run. */
const MAX_REQUESTS = envInt('MAX_REQUESTS', 2000, 1, 1_000_000);
/** Most concurrent in-flight requests (VUs) k6 may use. */
const MAX_VUS = envInt('MAX_VUS', 50, 1, 1000);
/** Tokens the model is asked to generate per request. */
const NUM_PREDICT = envInt('NUM_PREDICT', 32, 1, 4096);
/** p(95) bound on request duration in ms (queueing included). */
const P95_MS = envInt('P95_MS', 30_000, 1, 3_600_000);
/** Per-request client timeout in seconds. */
const TIMEOUT_S = envInt('TIMEOUT_S', 120, 1, 3600);

const queueMs = new Trend('herd_queue_ms', true);
const tokens = new Counter('herd_eval_tokens');

export const options: Options = {
  scenarios: {
    generate: {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      preAllocatedVUs: Math.min(MAX_VUS, Math.max(1, RATE)),
      maxVUs: MAX_VUS,
      stages: [
        { duration: `${RAMP_S}s`, target: RATE },
        { duration: `${HOLD_S}s`, target: RATE },
        { duration: `${RAMP_S}s`, target: 0 },
      ],
      gracefulStop: `${TIMEOUT_S}s`,
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: [`p(95)<${P95_MS}`],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

const PROMPTS = [
  'Why is the sky blue? Answer in one sentence.',
  'Name three uses of a priority queue.',
  'Write a haiku about load balancing.',
  'Explain what a token is in a language model.',
  'Give one tip for writing a good commit message.',
];

interface GenerateBody {
  response?: unknown;
  done?: unknown;
  eval_count?: unknown;
}

export default function generate(): void {
  // Bounded in count: iterations past the cap return at once without sending anything.
  if (exec.scenario.iterationInTest >= MAX_REQUESTS) return;

  const priority = 1 + Math.floor(Math.random() * 10);
  const payload = JSON.stringify({
    model: MODEL,
    prompt: PROMPTS[Math.floor(Math.random() * PROMPTS.length)],
    priority,
    stream: false,
    options: { num_predict: NUM_PREDICT },
  });
  const res = http.post(`${BASE_URL}/ollama/generate`, payload, {
    headers: { 'Content-Type': 'application/json' },
    timeout: `${TIMEOUT_S}s`,
    tags: { name: 'POST /ollama/generate', priority: String(priority) },
  });

  let body: GenerateBody | undefined;
  try {
    body = res.json() as GenerateBody;
  } catch {
    body = undefined;
  }

  check(res, {
    'status is 200': (r) => r.status === 200,
    'body has response': () => typeof body?.response === 'string' && body.done === true,
    'has X-Herd-Node header': (r) => (r.headers['X-Herd-Node'] ?? '') !== '',
  });

  const waited = Number(res.headers['X-Herd-Queue-Ms']);
  if (Number.isFinite(waited)) queueMs.add(waited, { priority: String(priority) });
  if (typeof body?.eval_count === 'number') tokens.add(body.eval_count);
}
