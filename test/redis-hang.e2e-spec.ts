/**
 * A Redis that stops answering without closing its sockets (a paused or overloaded server; here a real
 * redis-server stopped with SIGSTOP). No request may hang on it: every command has a timeout
 * (HERD_REDIS_COMMAND_TIMEOUT_MS), requests waiting in the queue are answered 503 once the replica notices,
 * /health says why, and Herd serves again by itself when Redis answers again.
 */
import { startSimNode, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import { startEmbeddedRedis, type EmbeddedRedis } from '../src/redis/embedded-redis';
import { nodeConfig, startTestHerd, waitFor } from './support/herd';
import { uniquePrefix } from './support/redis';

jest.setTimeout(60_000);

const COMMAND_TIMEOUT_MS = 500;
/** The promise made to clients: an answer within the command timeout plus one second. */
const BOUND_MS = COMMAND_TIMEOUT_MS + 1000;
const LLAMA = { models: [{ name: 'llama3:latest' }], resident: ['llama3:latest'] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Timed {
  label: string;
  sentAt: number;
  answeredAt: number;
  status: number;
  retryAfter: string | null;
  text: string;
}

/** One request with a hard client deadline (so a hang fails the test instead of stalling it), timed. */
async function timed(label: string, url: string, body: unknown, deadlineMs = 15_000): Promise<Timed> {
  const sentAt = Date.now();
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(deadlineMs) });
    const text = await res.text();
    return { label, sentAt, answeredAt: Date.now(), status: res.status, retryAfter: res.headers.get('retry-after'), text };
  } catch (err) {
    return { label, sentAt, answeredAt: Date.now(), status: 0, retryAfter: null, text: `no answer: ${(err as Error).message}` };
  }
}

function generate(i: number, numPredict: number, stream = false): Record<string, unknown> {
  return { model: 'llama3', prompt: `redis hang ${i}`, stream, options: { num_predict: numPredict } };
}

/** A stream or a whole answer that ended well: 200 and a last line with done:true. */
function succeeded(r: Timed): boolean {
  const lines = r.text.trim().split('\n');
  try {
    return r.status === 200 && (JSON.parse(lines[lines.length - 1]) as { done?: boolean }).done === true;
  } catch {
    return false;
  }
}

describe('a Redis that stops answering without closing the socket', () => {
  let redis: EmbeddedRedis;
  let node: SimNode;
  /** Two replicas on one Redis: each notices the outage by itself and answers its own clients. */
  let herd: RunningHerd;
  let other: RunningHerd;
  let paused = false;

  const pause = (): void => {
    process.kill(redis.process.pid!, 'SIGSTOP');
    paused = true;
  };
  const resume = (): void => {
    if (!paused) return;
    process.kill(redis.process.pid!, 'SIGCONT');
    paused = false;
  };

  beforeAll(async () => {
    redis = await startEmbeddedRedis();
    // Two slots at 25 tokens/s: a 70-token request runs ~3 s, long enough to outlive the checks below.
    node = await startSimNode({ name: 'slow', ...LLAMA, slots: 2, decodeTps: 25, parallelSlowdown: 0 });
    const shared = { redisUrl: redis.url, redisPrefix: uniquePrefix('hang'), nodes: [nodeConfig('slow', node.url, { slots: 2 })], redisCommandTimeoutMs: COMMAND_TIMEOUT_MS, healthIntervalMs: 300 };
    [herd, other] = await Promise.all([startTestHerd(shared), startTestHerd(shared)]);
  });
  afterAll(async () => {
    resume(); // never leave a stopped redis-server behind, whatever failed
    await Promise.allSettled([herd?.close(0), other?.close(0), node?.close()]);
    await redis?.stop();
  });

  it('answers every request within the command timeout + 1 s, says why on /health, and recovers without a restart', async () => {
    const url = `${herd.url}/api/generate`;
    const otherUrl = `${other.url}/api/generate`;
    const pending = (): number => herd.core.inference.pendingCount() + other.core.inference.pendingCount();
    // Two requests running on the node (one streamed), six waiting in the shared queue, through both replicas.
    const running = [timed('running-stream', url, generate(1, 70, true)), timed('running-whole', otherUrl, generate(2, 70))];
    await waitFor(() => node.active() === 2, 5000, 'two requests running on the node');
    const waiting = [3, 4, 5, 6, 7, 8].map((i) => timed(`waiting-${i}`, i % 2 ? url : otherUrl, generate(i, 5)));
    await waitFor(async () => pending() === 8 && (await herd.core.queue.waitingCount()) === 6, 5000, 'six requests waiting in the queue');

    pause();
    const pausedAt = Date.now();
    // New requests keep arriving while Redis is stopped: at once, before and after Herd noticed.
    const arriving: Promise<Timed>[] = [timed('new-0', url, generate(10, 5))];
    const health = (async () => {
      await sleep(200);
      const sentAt = Date.now();
      const res = await fetch(`${herd.url}/health`, { signal: AbortSignal.timeout(15_000) });
      return { sentAt, answeredAt: Date.now(), status: res.status, text: await res.text() };
    })();
    await sleep(300);
    arriving.push(timed('new-1', url, generate(11, 5), 15_000), timed('new-1-stream', otherUrl, generate(12, 5, true)));
    arriving.push(timed('new-1-openai', `${herd.url}/v1/chat/completions`, { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }));
    await sleep(900);
    arriving.push(timed('new-2', url, generate(13, 5)), timed('new-2-other', otherUrl, generate(14, 5)));

    const waited = await Promise.all(waiting);
    for (const r of waited) {
      expect({ label: r.label, status: r.status, retryAfter: r.retryAfter }).toEqual({ label: r.label, status: 503, retryAfter: '2' });
      expect(JSON.parse(r.text)).toEqual({ error: expect.stringMatching(/Redis/) });
      expect({ label: r.label, msAfterPause: r.answeredAt - pausedAt, inTime: r.answeredAt - pausedAt < BOUND_MS }).toMatchObject({ label: r.label, inTime: true });
    }
    const fresh = await Promise.all(arriving);
    for (const r of fresh) {
      expect({ label: r.label, status: r.status, retryAfter: r.retryAfter }).toEqual({ label: r.label, status: 503, retryAfter: '2' });
      expect({ label: r.label, ms: r.answeredAt - r.sentAt, inTime: r.answeredAt - r.sentAt < BOUND_MS }).toMatchObject({ label: r.label, inTime: true });
    }
    const openai = JSON.parse(fresh.find((r) => r.label === 'new-1-openai')!.text) as { error: { code: string; type: string } };
    expect(openai.error).toMatchObject({ code: 'HERD_REDIS_UNAVAILABLE', type: 'server_error' });
    expect(JSON.parse(fresh.find((r) => r.label === 'new-1')!.text)).toEqual({ error: expect.stringMatching(/Redis/) });

    const h = await health;
    expect(h.status).toBe(503);
    expect(h.answeredAt - h.sentAt).toBeLessThan(BOUND_MS);
    expect(h.text).toContain(`Redis did not answer within ${COMMAND_TIMEOUT_MS} ms`);

    // Requests already running on the node are not Redis's business: they finish, still with Redis stopped.
    const ran = await Promise.all(running);
    for (const r of ran) expect({ label: r.label, ok: succeeded(r) }).toEqual({ label: r.label, ok: true });
    expect(paused).toBe(true);
    // Nothing is left waiting in either replica.
    await waitFor(() => pending() === 0, 2000, 'no request pending');

    resume();
    const resumedAt = Date.now();
    // Herd serves again by itself (each replica once its next PING is answered, within a quarter second): first one
    // request each, then a burst through both replicas that has to queue (two slots, six requests).
    for (const u of [url, otherUrl]) await waitFor(async () => succeeded(await timed('probe', u, generate(100, 3))), 10_000, 'Herd to serve again after Redis answered');
    const recoveredMs = Date.now() - resumedAt;
    const after = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => timed(`after-${i}`, i % 2 ? url : otherUrl, generate(200 + i, 20))));
    expect(after.map((r) => ({ label: r.label, ok: succeeded(r), status: r.status, text: succeeded(r) ? '' : r.text }))).toEqual(after.map((r) => ({ label: r.label, ok: true, status: 200, text: '' })));
    expect(node.maxActiveSeen()).toBeLessThanOrEqual(2);
    // Jobs left behind by the requests answered 503 and the leases of the paused time are all gone.
    await waitFor(async () => (await herd.core.queue.waitingCount()) === 0, 5000, 'the queue to empty');
    await waitFor(async () => (await herd.core.ledger.loads(['slow'])).get('slow')?.inFlight === 0, 10_000, 'leases to return to zero');
    for (const h of [herd, other]) {
      expect((await fetch(`${h.url}/health`)).status).toBe(200);
      await waitFor(() => h.core.watchdog.pendingRecoveryTasks() === 0, 5000, 'clean-ups after the outage to run');
    }
    process.stdout.write(
      `redis paused: waiting answered in ${waited.map((r) => r.answeredAt - pausedAt).join('/')} ms after the pause; ` +
        `new requests in ${fresh.map((r) => r.answeredAt - r.sentAt).join('/')} ms; /health in ${h.answeredAt - h.sentAt} ms; ` +
        `serving again ${recoveredMs} ms after SIGCONT\n`,
    );
  });
});
