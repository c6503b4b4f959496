/**
 * API keys (issue #12, item 1) through the real `ollama` and `openai` clients, against two Herd replicas sharing one
 * real Redis (HERD_AUTH=keys), and a third replica with keys off.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { startSimNode, type SimNode } from '../sim';
import type { RunningHerd } from '../src/bootstrap';
import type { RequestRecord } from '../src/inference/request-events';
import type { EmbeddedRedis } from '../src/redis/embedded-redis';
import { RedisKeys } from '../src/redis/redis-keys';
import { RateLimitRepository } from '../src/tenants/rate-limit.repository';
import { nodeConfig, post, startTestHerd, waitFor } from './support/herd';
import { startRedis, uniquePrefix } from './support/redis';

jest.setTimeout(60_000);

const ADMIN_KEY = 'admin-key-for-tests';
const INFERENCE_ROUTES: [string, Record<string, unknown>][] = [
  ['/api/generate', { model: 'llama3', prompt: 'hi', stream: false }],
  ['/api/chat', { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], stream: false }],
  ['/api/embed', { model: 'nomic-embed-text', input: 'x' }],
  ['/api/embeddings', { model: 'nomic-embed-text', prompt: 'x' }],
  ['/ollama/generate', { model: 'llama3', prompt: 'hi' }],
  ['/v1/chat/completions', { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }],
  ['/v1/completions', { model: 'llama3', prompt: 'hi', max_tokens: 3 }],
  ['/v1/embeddings', { model: 'nomic-embed-text', input: 'x' }],
];

let redis: EmbeddedRedis;
let node: SimNode;
let a: RunningHerd;
let b: RunningHerd;
let open: RunningHerd;
let redisClient: Redis;
/** Every plain key handed out, for the scan of Redis. */
const issued: string[] = [];

interface KeyView {
  id: string;
  key?: string;
  tenant: string;
  weight: number;
  priorityFloor: number;
  status: string;
  [field: string]: unknown;
}

async function admin(herd: RunningHerd, method: string, path: string, body?: unknown, key = ADMIN_KEY): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${herd.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function createKey(settings: Record<string, unknown>): Promise<KeyView & { key: string }> {
  const r = await admin(a, 'POST', '/herd/keys', settings);
  expect(r.status).toBe(201);
  const view = r.body as unknown as KeyView & { key: string };
  issued.push(view.key);
  return view;
}

const ollamaFor = (herd: RunningHerd, key?: string): Ollama => new Ollama({ host: herd.url, headers: key ? { Authorization: `Bearer ${key}` } : {} });
const openaiFor = (herd: RunningHerd, key: string): OpenAI => new OpenAI({ baseURL: `${herd.url}/v1`, apiKey: key, maxRetries: 0 });

/** What ollama-js throws for an HTTP error (its ResponseError, whose type the package does not export). */
interface ResponseError {
  error: string;
  status_code: number;
}

async function ollamaError(work: Promise<unknown>): Promise<ResponseError> {
  try {
    await work;
  } catch (err) {
    return err as ResponseError;
  }
  throw new Error('expected the ollama client to throw');
}

async function openaiError(work: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await work;
  } catch (err) {
    expect(err).toBeInstanceOf(OpenAI.APIError);
    return err as InstanceType<typeof OpenAI.APIError>;
  }
  throw new Error('expected the openai client to throw');
}

const chat = (client: Ollama, model = 'llama3'): Promise<unknown> => client.chat({ model, messages: [{ role: 'user', content: 'hi' }], options: { num_predict: 3 } });

/** Keeps a test that counts per minute away from the end of Redis' minute window (same machine, same clock). */
async function awayFromWindowEdge(needMs: number): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needMs) await new Promise((r) => setTimeout(r, left + 50));
}

/** The records of the next requests a replica finishes. */
function recordsOf(herd: RunningHerd): RequestRecord[] {
  const seen: RequestRecord[] = [];
  herd.core.events.on((r) => seen.push(r));
  return seen;
}

beforeAll(async () => {
  redis = await startRedis();
  redisClient = new Redis(redis.url);
  node = await startSimNode({ name: 'k1', models: [{ name: 'llama3' }, { name: 'mistral' }, { name: 'nomic-embed-text' }], resident: ['llama3'], slots: 8, timeScale: 0.01 });
  const shared = { redisUrl: redis.url, redisPrefix: uniquePrefix('keys'), auth: 'keys' as const, adminKey: ADMIN_KEY, nodes: [nodeConfig('k1', node.url, { slots: 8 })] };
  [a, b] = await Promise.all([startTestHerd({ ...shared, replicaId: 'replica-a' }), startTestHerd({ ...shared, replicaId: 'replica-b' })]);
  open = await startTestHerd({ redisUrl: redis.url, nodes: [nodeConfig('k1', node.url, { slots: 8 })] });
});

afterAll(async () => {
  await Promise.all([a?.close(0), b?.close(0), open?.close(0)]);
  redisClient?.disconnect();
  await node?.close();
  await redis?.stop();
});

describe('the key admin routes', () => {
  it('need the admin key', async () => {
    expect((await admin(a, 'GET', '/herd/keys', undefined, '')).status).toBe(401);
    expect((await admin(a, 'GET', '/herd/keys', undefined, 'not-the-admin-key')).status).toBe(401);
    expect((await admin(a, 'POST', '/herd/keys', { tenant: 'x' }, '')).status).toBe(401);
  });

  it('create a key shown once, then list and read it without the key or its hash', async () => {
    const created = await createKey({ tenant: 'team-a', name: 'ci', weight: 2, priorityFloor: 2, models: ['llama3*'], rpm: 100, tpm: 100_000 });
    expect(created.key).toMatch(/^herd_[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({ tenant: 'team-a', name: 'ci', weight: 2, priorityFloor: 2, models: ['llama3*'], rpm: 100, tpm: 100_000, status: 'active' });
    const hash = createHash('sha256').update(created.key).digest('hex');
    const list = await admin(b, 'GET', '/herd/keys');
    expect(list.status).toBe(200);
    const listed = (list.body.keys as KeyView[]).find((k) => k.id === created.id);
    expect(listed).toMatchObject({ tenant: 'team-a', status: 'active' });
    const one = await admin(b, 'GET', `/herd/keys/${created.id}`);
    expect(one.status).toBe(200);
    for (const text of [JSON.stringify(list.body), JSON.stringify(one.body)]) {
      expect(text).not.toContain(created.key);
      expect(text).not.toContain(hash);
    }
  });

  it('fill in defaults: weight 1, floor 1, no limits', async () => {
    const k = await createKey({ tenant: 'defaults' });
    expect(k).toMatchObject({ weight: 1, priorityFloor: 1, status: 'active' });
    expect(k).not.toHaveProperty('models');
    expect(k).not.toHaveProperty('rpm');
  });

  it.each([
    ['no tenant', {}],
    ['a bad tenant', { tenant: 'no spaces' }],
    ['weight 0', { tenant: 't', weight: 0 }],
    ['a huge weight', '{"tenant":"t","weight":1e999}'],
    ['a huge rpm', { tenant: 't', rpm: 1e20 }],
    ['a floor of 11', { tenant: 't', priorityFloor: 11 }],
    ['models that are no list', { tenant: 't', models: 'llama3' }],
    ['an expiry in the past', { tenant: 't', expiresAt: '2001-01-01T00:00:00Z' }],
    ['an expiry that is no date', { tenant: 't', expiresAt: 'next week' }],
    ['a misspelt field', { tenant: 't', rmp: 3 }],
    ['a __proto__ key', '{"tenant":"t","__proto__":{"weight":5}}'],
    ['a nested constructor key', '{"tenant":"t","models":[{"constructor":{"prototype":1}}]}'],
    ['a body that is no JSON', '{"tenant":'],
    ['a body that is an array', '[{"tenant":"t"}]'],
  ])('refuse a body with %s (400, Ollama shape)', async (_what, body) => {
    const r = await admin(a, 'POST', '/herd/keys', body);
    expect(r.status).toBe(400);
    expect(typeof r.body.error).toBe('string');
  });

  it('answer 404 for an unknown id and 400 for a bad change', async () => {
    expect((await admin(a, 'GET', '/herd/keys/key_0000000000000000')).status).toBe(404);
    expect((await admin(a, 'GET', '/herd/keys/..%2F..%2Fetc')).status).toBe(404);
    expect((await admin(a, 'PATCH', '/herd/keys/key_0000000000000000', { weight: 2 })).status).toBe(404);
    expect((await admin(a, 'DELETE', '/herd/keys/nope')).status).toBe(404);
    const k = await createKey({ tenant: 'patchy' });
    expect((await admin(a, 'PATCH', `/herd/keys/${k.id}`, { tenant: 'other' })).status).toBe(400);
    expect((await admin(a, 'PATCH', `/herd/keys/${k.id}`, { weight: null })).status).toBe(400);
    expect((await admin(a, 'PATCH', `/herd/keys/${k.id}`, { tpm: 1e12 })).status).toBe(400);
    expect((await admin(a, 'PATCH', `/herd/keys/${k.id}`, '{"__proto__":{"x":1}}')).status).toBe(400);
  });

  it('revoke idempotently, and a revoked key cannot be changed', async () => {
    const k = await createKey({ tenant: 'gone' });
    const first = await admin(a, 'DELETE', `/herd/keys/${k.id}`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'revoked', revokedAt: expect.any(String) as unknown });
    const again = await admin(b, 'DELETE', `/herd/keys/${k.id}`);
    expect(again.status).toBe(200);
    expect(again.body.revokedAt).toBe(first.body.revokedAt);
    expect((await admin(a, 'PATCH', `/herd/keys/${k.id}`, { weight: 3 })).status).toBe(409);
  });
});

describe('with HERD_AUTH=keys', () => {
  it('serves a valid key on both replicas, through both clients and every inference route', async () => {
    const k = await createKey({ tenant: 'everyone' });
    for (const herd of [a, b]) {
      const ollama = ollamaFor(herd, k.key);
      expect((await ollama.generate({ model: 'llama3', prompt: 'hi', options: { num_predict: 3 } })).done).toBe(true);
      expect((await ollama.embed({ model: 'nomic-embed-text', input: 'x' })).embeddings).toHaveLength(1);
      const openai = openaiFor(herd, k.key);
      const completion = await openai.chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
      expect(completion.choices[0].message.content?.length).toBeGreaterThan(0);
      for (const [route, body] of INFERENCE_ROUTES) {
        const r = await post(`${herd.url}${route}`, body, { authorization: `Bearer ${k.key}` });
        expect([route, r.status]).toEqual([route, 200]);
      }
    }
    // X-Api-Key is accepted too.
    expect((await post(`${a.url}/api/embed`, { model: 'nomic-embed-text', input: 'x' }, { 'x-api-key': k.key })).status).toBe(200);
  });

  it('answers 401 without a key or with a wrong one, on every inference route, in the API’s own shape', async () => {
    for (const [route, body] of INFERENCE_ROUTES) {
      const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer sk-not-a-herd-key' }, { authorization: `Bearer herd_${'A'.repeat(43)}` }];
      for (const headers of attempts) {
        const r = await post(`${b.url}${route}`, body, headers);
        expect([route, r.status]).toEqual([route, 401]);
        expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(r.headers.get('x-herd-error-code')).toBe('HERD_INVALID_API_KEY');
        if (route.startsWith('/v1/')) expect(r.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key', param: null });
        else expect(typeof r.body.error).toBe('string');
      }
    }
  });

  it('answers 401 to the real clients: no key, a wrong key', async () => {
    const none = await ollamaError(chat(ollamaFor(a)));
    expect(none.status_code).toBe(401);
    expect(none.error).toMatch(/API key required/);
    const wrong = await ollamaError(chat(ollamaFor(b, `herd_${'x'.repeat(43)}`)));
    expect(wrong.status_code).toBe(401);
    expect(wrong.error).toMatch(/invalid API key/);

    const noKey = await openaiError(openaiFor(a, '').chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }] }));
    expect(noKey).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(noKey.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key', message: expect.stringMatching(/API key required/) as unknown });
    const wrongKey = await openaiError(openaiFor(b, 'sk-123').embeddings.create({ model: 'nomic-embed-text', input: 'x' }));
    expect(wrongKey).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(wrongKey.code).toBe('invalid_api_key');
  });

  it('answers 403 for a model outside the key’s patterns, and serves the ones inside', async () => {
    const k = await createKey({ tenant: 'embedders', models: ['nomic-embed*', 'MISTRAL'] });
    const ollama = ollamaFor(a, k.key);
    expect((await ollama.embed({ model: 'nomic-embed-text', input: 'x' })).embeddings).toHaveLength(1);
    expect(await chat(ollama, 'Mistral:latest')).toBeDefined();
    const refused = await ollamaError(chat(ollama, 'llama3'));
    expect(refused.status_code).toBe(403);
    expect(refused.error).toMatch(/may not use model "llama3:latest"/);
    const openaiRefused = await openaiError(openaiFor(b, k.key).chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }] }));
    expect(openaiRefused).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(openaiRefused.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_allowed', param: 'model' });
  });

  it('answers 429 with Retry-After once a key is over its rpm, counted across replicas', async () => {
    await awayFromWindowEdge(10_000);
    const k = await createKey({ tenant: 'limited', rpm: 2 });
    await chat(ollamaFor(a, k.key));
    await chat(ollamaFor(b, k.key));
    const refused = await ollamaError(chat(ollamaFor(a, k.key)));
    expect(refused.status_code).toBe(429);
    expect(refused.error).toMatch(/2 requests per minute/);
    const raw = await post(`${b.url}/api/embed`, { model: 'nomic-embed-text', input: 'x' }, { authorization: `Bearer ${k.key}` });
    expect(raw.status).toBe(429);
    const retryAfter = Number(raw.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(Math.abs(retryAfter - (60 - Math.floor((Date.now() % 60_000) / 1000)))).toBeLessThanOrEqual(2);
    const openaiRefused = await openaiError(openaiFor(b, k.key).chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }] }));
    expect(openaiRefused).toBeInstanceOf(OpenAI.RateLimitError);
    expect(openaiRefused.error).toMatchObject({ type: 'requests', code: 'rate_limit_exceeded' });
    expect(Number(openaiRefused.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('answers 429 once a key has used its tpm, counting prompt and output tokens of finished requests', async () => {
    await awayFromWindowEdge(15_000);
    const k = await createKey({ tenant: 'token-limited', tpm: 20 });
    await chat(ollamaFor(a, k.key));
    let last: Awaited<ReturnType<typeof post>> | undefined;
    await waitFor(
      async () => {
        last = await post(`${b.url}/v1/chat/completions`, { model: 'llama3', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 }, { authorization: `Bearer ${k.key}` });
        return last.status === 429;
      },
      5000,
      'the token limit',
    );
    expect(last!.body.error).toMatchObject({ type: 'tokens', code: 'rate_limit_exceeded', message: expect.stringMatching(/20 tokens per minute/) as unknown });
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('refuses a key revoked on one replica on the other within 1 s', async () => {
    const k = await createKey({ tenant: 'revoked-soon' });
    const onB = ollamaFor(b, k.key);
    await chat(onB); // B has the key in its cache now
    await chat(onB);
    const revokedAt = performance.now();
    expect((await admin(a, 'DELETE', `/herd/keys/${k.id}`)).status).toBe(200);
    let status = 0;
    while (status !== 401 && performance.now() - revokedAt < 3000) {
      status = (await post(`${b.url}/api/embed`, { model: 'nomic-embed-text', input: 'x' }, { authorization: `Bearer ${k.key}` })).status;
    }
    const tookMs = performance.now() - revokedAt;
    console.log(`revoked on replica A, refused on replica B after ${tookMs.toFixed(1)} ms (pub/sub)`);
    expect(status).toBe(401);
    // Well inside 1 s: B had just read the key, so only the message (not the 1 s cache expiry) explains this.
    expect(tookMs).toBeLessThan(500);
    const err = await ollamaError(chat(onB));
    expect(err.error).toMatch(/revoked/);
  });

  it('still refuses a revoked key within 1 s when the invalidation message is lost (cache entries live 0.8 s)', async () => {
    const k = await createKey({ tenant: 'revoked-quietly' });
    const onB = ollamaFor(b, k.key);
    await chat(onB);
    // The revocation as the repository writes it, without the message on the keys channel.
    const prefix = b.core.config.redisPrefix;
    const stored = JSON.parse((await redisClient.hget(`${prefix}:api-keys`, k.id))!) as Record<string, unknown>;
    await redisClient.hset(`${prefix}:api-keys`, k.id, JSON.stringify({ ...stored, revokedAt: new Date().toISOString() }));
    const revokedAt = performance.now();
    let status = 0;
    while (status !== 401 && performance.now() - revokedAt < 3000) {
      status = (await post(`${b.url}/api/embed`, { model: 'nomic-embed-text', input: 'x' }, { authorization: `Bearer ${k.key}` })).status;
    }
    const tookMs = performance.now() - revokedAt;
    console.log(`revoked without a message, refused on replica B after ${tookMs.toFixed(1)} ms (cache TTL)`);
    expect(status).toBe(401);
    expect(tookMs).toBeLessThan(1000);
  });

  it('clamps a priority better than the key’s floor and says so in a header', async () => {
    const k = await createKey({ tenant: 'low-priority', priorityFloor: 4 });
    const seen = recordsOf(a);
    const openai = openaiFor(a, k.key);
    const clamped = await openai.chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }, { headers: { 'X-Herd-Priority': '1' } }).withResponse();
    expect(clamped.response.headers.get('x-herd-priority-clamped')).toBe('1->4');
    const asked = await openai.chat.completions.create({ model: 'llama3', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }, { headers: { 'X-Herd-Priority': '7' } }).withResponse();
    expect(asked.response.headers.get('x-herd-priority-clamped')).toBeNull();
    await waitFor(() => seen.filter((r) => r.tenant === 'low-priority').length === 2, 2000, 'the records');
    expect(seen.filter((r) => r.tenant === 'low-priority').map((r) => r.priority)).toEqual([4, 7]);
    // A change of the floor reaches the other replica at once.
    expect((await admin(a, 'PATCH', `/herd/keys/${k.id}`, { priorityFloor: 6 })).status).toBe(200);
    const onB = await post(`${b.url}/api/generate`, { model: 'llama3', prompt: 'hi', stream: false, priority: 2 }, { authorization: `Bearer ${k.key}` });
    expect(onB.status).toBe(200);
    expect(onB.headers.get('x-herd-priority-clamped')).toBe('2->6');
  });

  it('charges the key’s tenant and weight, whatever X-Herd-Tenant says', async () => {
    const k = await createKey({ tenant: 'real-tenant', weight: 3 });
    const seen = recordsOf(b);
    const r = await post(`${b.url}/api/embed`, { model: 'nomic-embed-text', input: 'x' }, { authorization: `Bearer ${k.key}`, 'x-herd-tenant': 'someone-else' });
    expect(r.status).toBe(200);
    await waitFor(() => seen.some((s) => s.tenant !== undefined), 2000, 'the record');
    expect(seen.find((s) => s.tenant !== undefined)).toMatchObject({ tenant: 'real-tenant', keyId: k.id });
  });

  it('refuses an expired key', async () => {
    const k = await createKey({ tenant: 'short-lived', expiresAt: new Date(Date.now() + 1000).toISOString() });
    expect((await post(`${a.url}/api/embed`, { model: 'nomic-embed-text', input: 'x' }, { authorization: `Bearer ${k.key}` })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    const r = await post(`${a.url}/api/embed`, { model: 'nomic-embed-text', input: 'x' }, { authorization: `Bearer ${k.key}` });
    expect(r.status).toBe(401);
    expect(r.body.error).toMatch(/expired/);
    expect((await admin(a, 'GET', `/herd/keys/${k.id}`)).body.status).toBe('expired');
  });

  it('leaves no plain key anywhere in Redis (every key, field and member scanned)', async () => {
    expect(issued.length).toBeGreaterThan(5);
    const secrets = issued.flatMap((key) => [key, key.slice('herd_'.length)]);
    const contents: string[] = [];
    let cursor = '0';
    do {
      const [next, names] = await redisClient.scan(cursor, 'COUNT', 500);
      cursor = next;
      for (const name of names) {
        contents.push(name);
        const type = await redisClient.type(name);
        // Short-lived keys (locks, leases) can expire between SCAN and TYPE.
        if (type === 'none') continue;
        if (type === 'string') contents.push((await redisClient.get(name)) ?? '');
        else if (type === 'hash') contents.push(...Object.entries(await redisClient.hgetall(name)).flat());
        else if (type === 'list') contents.push(...(await redisClient.lrange(name, 0, -1)));
        else if (type === 'set') contents.push(...(await redisClient.smembers(name)));
        else if (type === 'zset') contents.push(...(await redisClient.zrange(name, 0, -1)));
        else if (type === 'stream') contents.push(JSON.stringify(await redisClient.xrange(name, '-', '+')));
        else throw new Error(`unexpected Redis type ${type} for ${name}`);
      }
    } while (cursor !== '0');
    const all = contents.join('\n');
    // The scan does see the keys' hashes: it would see a plain key the same way.
    expect(all).toContain(createHash('sha256').update(issued[0]).digest('hex'));
    for (const secret of secrets) expect(all.includes(secret)).toBe(false);
  });
});

describe('the rate windows in Redis', () => {
  const WINDOW_MS = 1000;
  let repo: RateLimitRepository;

  beforeAll(() => {
    repo = new RateLimitRepository(redisClient, new RedisKeys(uniquePrefix('rate')));
  });

  /** Starts a test right after a window turned, so the whole test fits in one window. */
  async function freshWindow(): Promise<void> {
    const [seconds, micros] = await redisClient.time();
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    await new Promise((r) => setTimeout(r, WINDOW_MS - (now % WINDOW_MS) + 5));
  }

  it('counts requests up to rpm, refuses the rest without counting them, and starts again in the next window', async () => {
    await freshWindow();
    expect(await repo.take('key_rpm', { rpm: 2 }, WINDOW_MS)).toEqual({ allowed: true });
    expect(await repo.take('key_rpm', { rpm: 2 }, WINDOW_MS)).toEqual({ allowed: true });
    const refused = await repo.take('key_rpm', { rpm: 2 }, WINDOW_MS);
    expect(refused).toMatchObject({ allowed: false, limit: 'rpm' });
    expect(refused.allowed === false && refused.msLeft).toBeGreaterThan(0);
    expect(refused.allowed === false && refused.msLeft).toBeLessThanOrEqual(WINDOW_MS);
    await new Promise((r) => setTimeout(r, refused.allowed === false ? refused.msLeft + 5 : 0));
    expect(await repo.take('key_rpm', { rpm: 2 }, WINDOW_MS)).toEqual({ allowed: true });
  });

  it('refuses once the tokens charged reach tpm, until the window turns', async () => {
    await freshWindow();
    expect(await repo.take('key_tpm', { tpm: 100 }, WINDOW_MS)).toEqual({ allowed: true });
    await repo.charge('key_tpm', 60, WINDOW_MS);
    expect(await repo.take('key_tpm', { tpm: 100 }, WINDOW_MS)).toEqual({ allowed: true });
    await repo.charge('key_tpm', 40, WINDOW_MS);
    expect(await repo.take('key_tpm', { tpm: 100 }, WINDOW_MS)).toMatchObject({ allowed: false, limit: 'tpm' });
    await freshWindow();
    expect(await repo.take('key_tpm', { tpm: 100 }, WINDOW_MS)).toEqual({ allowed: true });
  });

  it('lets its counts expire with the window', async () => {
    const keys = new RedisKeys(uniquePrefix('rate-ttl'));
    await new RateLimitRepository(redisClient, keys).take('key_ttl', { rpm: 5 }, WINDOW_MS);
    const ttl = await redisClient.pttl(keys.keyRate('key_ttl'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2 * WINDOW_MS);
  });
});

describe('with HERD_AUTH=off (the default)', () => {
  it('serves every client without a key, as before', async () => {
    const ollama = ollamaFor(open);
    expect(await chat(ollama)).toBeDefined();
    const openai = new OpenAI({ baseURL: `${open.url}/v1`, apiKey: 'anything', maxRetries: 0 });
    expect((await openai.embeddings.create({ model: 'nomic-embed-text', input: 'x', encoding_format: 'float' })).data).toHaveLength(1);
    for (const [route, body] of INFERENCE_ROUTES) expect([route, (await post(`${open.url}${route}`, body)).status]).toEqual([route, 200]);
  });

  it('takes the tenant from X-Herd-Tenant, with no clamp and no key id', async () => {
    const seen = recordsOf(open);
    const r = await post(`${open.url}/api/generate`, { model: 'llama3', prompt: 'hi', stream: false, priority: 1 }, { 'x-herd-tenant': 'lab' });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-herd-priority-clamped')).toBeNull();
    await waitFor(() => seen.length > 0, 2000, 'the record');
    expect(seen[0]).toMatchObject({ tenant: 'lab', priority: 1 });
    expect(seen[0].keyId).toBeUndefined();
  });
});
