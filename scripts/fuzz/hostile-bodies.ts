import { fnv1a, mulberry32 } from '../../bench/lib/prng';
import { agentIdFor } from '../../src/api/seed/agent-id';

/**
 * A pure, seeded generator of hostile requests for every body-taking route of Herd (issue #10), the API key and
 * usage routes, and the tenant and credential headers of the inference routes.
 *
 * No I/O: `generateCase(seed, index, context)` always returns the same case, so a failure found by the runner
 * is reproduced from its seed and index alone. Bodies are built as JSON text (not through JSON.stringify) so
 * they can hold what a serializer never writes: number literals like `1e309` or `9007199254740993`,
 * repeated and escaped keys (`"\u005f_proto__"`), 100 000 levels of nesting, truncated text, raw bytes.
 *
 * Safety rules, because the runner may point at a Herd in front of real Ollama servers:
 * - every URL inside a body is `http(s)://127.0.0.1:<port>` on a closed port (1), so nothing is probed outside;
 * - admin bodies only name models and nodes that do not exist (`fuzz-…`) and registry references on
 *   127.0.0.1:1, so a pull never leaves the machine and a delete or copy never touches a real model;
 * - valid inference bodies ask for at most 16 tokens;
 * - API keys: bodies of POST /herd/keys name only `fuzz-` tenants (or one of a few names Object.prototype has,
 *   such as `toString`: see FUZZ_KEY_TENANTS); PATCH goes to a key the runner made for the run
 *   (KEY_ID_PLACEHOLDER) or to ids that do not exist; DELETE only to ids that do not exist. The runner revokes
 *   every key the run made. Credentials in headers are made up, or placeholders the runner fills in with its own
 *   keys (RUNNER_KEY_PLACEHOLDER, TARGET_KEY_PLACEHOLDER): never a real key.
 */

export type Rng = () => number;

/** Put into bodies Herd must refuse (an out-of-range priority): a node must never receive this text. */
export const MUST_REJECT_CANARY = 'herd-fuzz-canary-must-never-reach-a-node';

/**
 * Stands for the API key the runner made for inference (HERD_AUTH=keys) in a credential header: the runner puts
 * the key in its place when it has one. Shaped like a key (`herd_` + 43 characters), so without one it is just a
 * key nobody made.
 */
export const RUNNER_KEY_PLACEHOLDER = `herd_${'FuzzRunnerKeyPlaceholder'.padEnd(43, '0')}`;
/** Stands for the key the runner made as the target of PATCH /herd/keys/:id cases (its secret). */
export const TARGET_KEY_PLACEHOLDER = `herd_${'FuzzTargetKeyPlaceholder'.padEnd(43, '0')}`;
/** Stands for that target key's id in a path (`/herd/keys/<id>`); left as it is, the id does not exist. */
export const KEY_ID_PLACEHOLDER = 'fuzz-target-key-id';
/** A key-shaped credential that no Herd ever made. */
const FAKE_KEY = `herd_${'FuzzFakeKeyNobodyMade'.padEnd(43, 'x')}`;

/**
 * Tenants a POST /herd/keys body of the generator can have Herd accept: `fuzz-` names, and these names that
 * every JavaScript object inherits. After a run, a key the runner did not see made (its answer was lost) is
 * revoked only if its tenant is one of these.
 */
export const FUZZ_KEY_TENANTS: readonly string[] = ['toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'];
export function isFuzzKeyTenant(tenant: string): boolean {
  return tenant.startsWith('fuzz') || FUZZ_KEY_TENANTS.includes(tenant);
}

export type RouteFamily =
  | 'herd-generate'
  | 'generate'
  | 'chat'
  | 'embed'
  | 'embeddings'
  | 'show'
  | 'openai-chat'
  | 'openai-completion'
  | 'openai-embeddings'
  | 'pull'
  | 'push'
  | 'create'
  | 'copy'
  | 'delete'
  | 'node-add'
  | 'heartbeat'
  | 'node-patch'
  | 'key-create'
  | 'key-patch'
  | 'key-list'
  | 'key-get'
  | 'key-revoke'
  | 'usage'
  | 'job-submit'
  | 'job-get'
  | 'job-cancel'
  | 'batch-create'
  | 'batch-list'
  | 'batch-get'
  | 'batch-cancel'
  | 'file-upload'
  | 'seed-chat'
  | 'seed-chat-stream'
  | 'seed-job'
  | 'agent-register'
  | 'agent-health'
  | 'seed-node'
  | 'seed-models'
  | 'seed-healthz';

export interface FuzzRoute {
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  /** Express-style path; `:name` and `:id` are filled per case. */
  path: string;
  family: RouteFamily;
  /** Admin route (models, fleet, keys, usage): any 4xx, 401/403 included, is a fine answer. */
  admin: boolean;
  /** Goes through Herd's priority queue (an inference route: reads X-Herd-Tenant and the API key). */
  queued: boolean;
  /**
   * Identifies its caller as an inference route does (the API key; X-Herd-Tenant with keys off): every queued route,
   * and the async job and Batch API routes. Bad tenants and made-up keys must be refused here.
   */
  caller: boolean;
  /** Reads X-Herd-Priority (every queued route but POST /herd/jobs, whose priority is in its body only). */
  priorityHeader: boolean;
  /** Takes a JSON body; a route without one gets only the kinds in BODYLESS_KINDS. */
  body: boolean;
  /** How often the route is picked, relative to the others. */
  weight: number;
}

const route = (method: FuzzRoute['method'], path: string, family: RouteFamily, admin: boolean, queued: boolean, extra: Partial<Pick<FuzzRoute, 'body' | 'weight' | 'caller' | 'priorityHeader'>> = {}): FuzzRoute => ({
  method,
  path,
  family,
  admin,
  queued,
  caller: extra.caller ?? queued,
  priorityHeader: extra.priorityHeader ?? queued,
  body: extra.body ?? true,
  weight: extra.weight ?? (admin ? 1 : 3),
});

export const FUZZ_ROUTES: readonly FuzzRoute[] = [
  route('POST', '/ollama/generate', 'herd-generate', false, true),
  route('POST', '/api/generate', 'generate', false, true),
  route('POST', '/api/chat', 'chat', false, true),
  route('POST', '/api/embed', 'embed', false, true),
  route('POST', '/api/embeddings', 'embeddings', false, true),
  route('POST', '/api/show', 'show', false, false),
  route('POST', '/v1/chat/completions', 'openai-chat', false, true),
  route('POST', '/v1/completions', 'openai-completion', false, true),
  route('POST', '/v1/embeddings', 'openai-embeddings', false, true),
  route('POST', '/api/pull', 'pull', true, false),
  route('POST', '/api/push', 'push', true, false),
  route('POST', '/api/create', 'create', true, false),
  route('POST', '/api/copy', 'copy', true, false),
  route('DELETE', '/api/delete', 'delete', true, false),
  route('POST', '/herd/nodes', 'node-add', true, false),
  route('POST', '/herd/nodes/heartbeat', 'heartbeat', true, false),
  route('PATCH', '/herd/nodes/:name', 'node-patch', true, false),
  route('POST', '/herd/keys', 'key-create', true, false, { weight: 2 }),
  route('PATCH', '/herd/keys/:id', 'key-patch', true, false, { weight: 2 }),
  route('GET', '/herd/keys', 'key-list', true, false, { body: false, weight: 0.5 }),
  route('GET', '/herd/keys/:id', 'key-get', true, false, { body: false }),
  route('DELETE', '/herd/keys/:id', 'key-revoke', true, false, { body: false }),
  route('GET', '/herd/usage', 'usage', true, false, { body: false, weight: 2 }),
  // Async jobs (/herd/jobs): a job is an inference body run later, at the priority in its own body.
  route('POST', '/herd/jobs', 'job-submit', false, true, { priorityHeader: false, weight: 2 }),
  route('GET', '/herd/jobs/:id', 'job-get', false, false, { caller: true, body: false, weight: 0.75 }),
  route('DELETE', '/herd/jobs/:id', 'job-cancel', false, false, { caller: true, body: false, weight: 0.75 }),
  // OpenAI's Batch API: the run never uploads a file Herd accepts, so every batch asked for names an unknown file.
  route('POST', '/v1/batches', 'batch-create', false, false, { caller: true, weight: 1.5 }),
  route('GET', '/v1/batches', 'batch-list', false, false, { caller: true, body: false, weight: 0.5 }),
  route('GET', '/v1/batches/:id', 'batch-get', false, false, { caller: true, body: false, weight: 0.5 }),
  route('POST', '/v1/batches/:id/cancel', 'batch-cancel', false, false, { caller: true, body: false, weight: 0.5 }),
  route('POST', '/v1/files', 'file-upload', false, false, { caller: true, weight: 1.5 }),
  // The routes of the balancers Herd replaces (src/api/seed): inference adapters, node registration, fleet views.
  route('POST', '/chat', 'seed-chat', false, true, { weight: 2 }),
  route('POST', '/chat/stream', 'seed-chat-stream', false, true, { weight: 1.5 }),
  route('POST', '/jobs', 'seed-job', false, true, { weight: 2 }),
  route('POST', '/api/agents', 'agent-register', true, false),
  route('POST', '/api/health', 'agent-health', true, false),
  route('GET', '/nodes/:id', 'seed-node', false, false, { body: false, weight: 0.75 }),
  route('GET', '/models', 'seed-models', false, false, { body: false, weight: 0.25 }),
  route('GET', '/healthz', 'seed-healthz', false, false, { body: false, weight: 0.25 }),
];

/** Families guarded by the node key (HERD_NODE_KEY, X-Herd-Node-Key), never the admin key. */
export const NODE_KEY_FAMILIES: ReadonlySet<RouteFamily> = new Set<RouteFamily>(['heartbeat', 'agent-register', 'agent-health']);

/**
 * Families where every request the generator makes must be refused (4xx): ids no Herd made (jobs, batches), batches
 * of files that do not exist, and uploads that are not a well-formed form with purpose "batch" and a file.
 */
const ALWAYS_REFUSED: ReadonlySet<RouteFamily> = new Set<RouteFamily>(['job-get', 'job-cancel', 'batch-create', 'batch-get', 'batch-cancel', 'file-upload']);

/** The inference routes a job may name (POST /herd/jobs `route`), with their families for the job's body. */
const JOB_INNER_ROUTES: readonly FuzzRoute[] = FUZZ_ROUTES.filter((r) => ['/ollama/generate', '/api/generate', '/api/chat', '/api/embed', '/api/embeddings', '/v1/chat/completions', '/v1/completions', '/v1/embeddings'].includes(r.path));
const BATCH_ENDPOINTS = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'];

export const CASE_KINDS = [
  'valid',
  'wrong-type',
  'extreme-number',
  'bad-priority',
  'bad-priority-header',
  'prototype-key',
  'odd-string',
  'deep-nesting',
  'malformed-json',
  'content-type',
  'oversize',
  'bulk',
  'tenant-header',
  'auth-header',
  'hostile-query',
] as const;
export type CaseKind = (typeof CASE_KINDS)[number];

/** The kinds that apply to a route without a body (GET, DELETE /herd/keys/:id). */
const BODYLESS_KINDS: ReadonlySet<CaseKind> = new Set<CaseKind>(['valid', 'auth-header', 'hostile-query', 'malformed-json', 'content-type']);

/** Whether a kind of case can be made for a route. */
export function kindApplies(kind: CaseKind, r: FuzzRoute): boolean {
  if (kind === 'tenant-header') return r.caller;
  return r.body || BODYLESS_KINDS.has(kind);
}

/** Relative frequency of each kind (oversize bodies are costly: kept rare). */
const KIND_WEIGHTS: Record<CaseKind, number> = {
  valid: 14,
  'wrong-type': 18,
  'extreme-number': 8,
  'bad-priority': 7,
  'bad-priority-header': 7,
  'prototype-key': 12,
  'odd-string': 9,
  'deep-nesting': 4,
  'malformed-json': 9,
  'content-type': 6,
  oversize: 0.5,
  bulk: 3,
  'tenant-header': 7,
  'auth-header': 7,
  'hostile-query': 5,
};

export interface FuzzContext {
  /** Models the fleet serves, for valid generate/chat/show bodies (e.g. from GET /api/tags). */
  models: readonly string[];
  /** Models for the embedding routes; defaults to `models`. */
  embedModels?: readonly string[];
  /** Herd's body limit in bytes (HERD_BODY_LIMIT): oversize bodies are just over it, others stay under. */
  bodyLimitBytes: number;
  /** Only these kinds (default: all). */
  kinds?: readonly CaseKind[];
  /** Only these routes (default: FUZZ_ROUTES). */
  routes?: readonly FuzzRoute[];
  /**
   * HERD_AUTH of the Herd under test (default off). It changes no request, only which ones must be refused: with
   * keys off a bad X-Herd-Tenant is; with keys on, it is ignored, and a made-up credential is refused instead.
   */
  auth?: 'off' | 'keys';
}

export interface FuzzCase {
  seed: number;
  index: number;
  route: FuzzRoute;
  /** Concrete request path (`:name` and `:id` filled in, any query string appended). */
  path: string;
  kind: CaseKind;
  /** What was done, for humans: `model=array`, `__proto__@options`, ... */
  detail: string;
  /** A string value is one header line; an array is the same header repeated. */
  headers: Record<string, string | string[]>;
  /** Undefined: no body at all. A Uint8Array carries bytes that are not valid UTF-8. */
  body?: string | Uint8Array;
  /** Sent with chunked transfer encoding instead of a Content-Length. */
  chunked: boolean;
  /** A well-formed request for a model the fleet has: real work that should be served. */
  valid: boolean;
  /**
   * Herd must answer 4xx (an out-of-range priority, a bad X-Herd-Tenant with keys off, a made-up API key with keys
   * on, a plainly bad key setting or usage query); on an inference route no node may see the body.
   */
  mustReject: boolean;
  /**
   * Herd must answer 4xx whatever the kind, because of the route: ids nobody made (jobs, batches), batches of files
   * that do not exist, uploads the generator never makes acceptable. Unlike `mustReject`, it does not depend on
   * HERD_AUTH and puts no canary in the body (nothing it refuses is inference).
   */
  alwaysRefused: boolean;
}

// ---- JSON text ------------------------------------------------------------------------------------------

/** JSON text written verbatim: number literals, escaped keys, broken or very deep structures. */
export class RawJson {
  constructor(readonly text: string) {}
}
/** An object as an ordered list of entries: keys may repeat and may be escaped (RawJson). */
export class Entries {
  constructor(readonly entries: ReadonlyArray<readonly [Key, unknown]>) {}
}
type Key = string | RawJson;
type Fields = Array<[Key, unknown]>;

const raw = (text: string): RawJson => new RawJson(text);

/** JSON text of a body given as fields. */
export function fieldsText(fields: ReadonlyArray<readonly [Key, unknown]>): string {
  return toJsonText(new Entries(fields));
}

/** JSON text of a value that may contain RawJson and Entries (shallow recursion only: deep parts are RawJson). */
export function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (value instanceof Entries) return `{${value.entries.map(([k, v]) => `${k instanceof RawJson ? k.text : JSON.stringify(k)}:${toJsonText(v)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map((v) => toJsonText(v)).join(',')}]`;
  if (value !== null && typeof value === 'object') return toJsonText(new Entries(Object.entries(value)));
  if (value === undefined) return 'null';
  return JSON.stringify(value);
}

// ---- random helpers -------------------------------------------------------------------------------------

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
const chance = (rng: Rng, p: number): boolean => rng() < p;
function weighted<T extends string>(rng: Rng, weights: Partial<Record<T, number>>): T {
  const entries = Object.entries(weights) as [T, number][];
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let r = rng() * total;
  for (const [k, w] of entries) {
    r -= w;
    if (r < 0) return k;
  }
  return entries[entries.length - 1][0];
}

/** The PRNG of one case: independent of every other case, so any case can be replayed alone. */
export function caseRng(seed: number, index: number): Rng {
  return mulberry32(fnv1a(`herd-fuzz:${seed >>> 0}:${index}`));
}

// ---- vocabulary -----------------------------------------------------------------------------------------

const PROMPTS = ['Why is the sky blue?', 'hi', 'Write one word.', 'Count to three.', 'Name a colour.', 'ok'];
/** Registry references on a closed loopback port: a real Ollama that tries them fails at once, locally. */
const GHOST_REFS = ['127.0.0.1:1/fuzz/nope:latest', '127.0.0.1:1/fuzz/ghost', '127.0.0.1:1/library/fuzz-missing:1b'];
/** URLs for node registration: loopback, closed or impossible ports. Never Herd's own port. */
const LOOPBACK_URLS = ['http://127.0.0.1:1', 'http://127.0.0.1:1/', 'https://127.0.0.1:1', 'http://127.0.0.1:0', 'http://127.0.0.1:99999', 'http://fuzz:pw@127.0.0.1:1', 'http://127.0.0.1:1/../..', 'ftp://127.0.0.1:1', 'http://127.0.0.1:1/?x=%00', 'http://127.0.0.1:1#__proto__', '127.0.0.1:1', 'not a url'];
const PROTO_KEYS: readonly Key[] = ['__proto__', 'constructor', 'prototype', raw('"\\u005f\\u005fproto\\u005f\\u005f"'), raw('"\\u0063onstructor"'), raw('"prototyp\\u0065"')];
/** Ids for /herd/keys/:id: none of them exists (the placeholder is the runner's own key, for PATCH and GET). */
const KEY_IDS = ['key_0000000000000000', 'key_ffffffffffffffff', 'KEY_0123456789ABCDEF', 'key_', 'key_0123456789abcde', 'key_0123456789abcdef0', 'key_0123456789abcdeg', '__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', '..', '%2e%2e', '%2e%2e%2fnodes', '%00', 'key_0123456789abcdef%00', '%E0%A4%A', '%ED%A0%80', '%F0%9F%A6%99', '%20', '*', 'key_*', 'null', 'undefined', '-1', '1e309', 'x'.repeat(2000)];
const PATCH_NAMES = ['fuzz-ghost', 'fuzz-hb-0', '__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', '%00', '%E0%A4%A', '%ED%A0%80', '%2e%2e%2f%2e%2e', 'fuzz%20ghost', '%F0%9F%A6%99', 'x'.repeat(2000)];

type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'array' | 'object';

/** Types each known field accepts somewhere (the union over routes). */
const FIELD_TYPES: Record<string, readonly JsonType[]> = {
  model: ['string'],
  prompt: ['string', 'array'],
  messages: ['array'],
  input: ['string', 'array'],
  options: ['object'],
  stream: ['boolean'],
  priority: ['integer'],
  max_tokens: ['integer'],
  system: ['string'],
  suffix: ['string'],
  format: ['string', 'object'],
  keep_alive: ['string', 'number', 'integer'],
  images: ['array'],
  tools: ['array'],
  template: ['string'],
  raw: ['boolean'],
  context: ['array'],
  think: ['boolean', 'string'],
  truncate: ['boolean'],
  dimensions: ['integer'],
  temperature: ['number', 'integer'],
  top_p: ['number', 'integer'],
  stop: ['string', 'array'],
  seed: ['integer'],
  n: ['integer'],
  user: ['string'],
  encoding_format: ['string'],
  response_format: ['object'],
  verbose: ['boolean'],
  name: ['string'],
  insecure: ['boolean'],
  source: ['string'],
  destination: ['string'],
  from: ['string'],
  files: ['object'],
  adapters: ['object'],
  quantize: ['string'],
  url: ['string'],
  slots: ['integer'],
  weight: ['number', 'integer'],
  draining: ['boolean'],
  labels: ['object'],
  memoryGb: ['number', 'integer'],
  tokensPerSecond: ['number', 'integer'],
  tenant: ['string'],
  priorityFloor: ['integer'],
  models: ['array'],
  rpm: ['integer'],
  tpm: ['integer'],
  expiresAt: ['string'],
  route: ['string'],
  body: ['object'],
  input_file_id: ['string'],
  endpoint: ['string'],
  completion_window: ['string'],
  metadata: ['object'],
  purpose: ['string'],
  file: ['string'],
  machine_name: ['string'],
  ip_address: ['string'],
  ollama_version: ['string'],
  ollama_port: ['integer'],
  agent_id: ['string'],
  cpu_usage: ['number', 'integer'],
  memory_usage: ['number', 'integer'],
  active_requests: ['integer'],
};

/** Fields that exist on every route family's requests; wrong types are tried on all of them everywhere. */
const COMMON_FIELDS = ['model', 'prompt', 'messages', 'input', 'options', 'stream', 'priority', 'max_tokens', 'system', 'suffix', 'format', 'keep_alive', 'images', 'tools'];

const FAMILY_FIELDS: Record<RouteFamily, readonly string[]> = {
  'herd-generate': ['model', 'prompt', 'system', 'options', 'stream', 'priority', 'format', 'keep_alive', 'images', 'raw', 'context', 'think'],
  generate: ['model', 'prompt', 'suffix', 'system', 'template', 'options', 'stream', 'priority', 'format', 'keep_alive', 'images', 'raw', 'context', 'think'],
  chat: ['model', 'messages', 'options', 'stream', 'priority', 'format', 'keep_alive', 'tools', 'think'],
  embed: ['model', 'input', 'options', 'priority', 'keep_alive', 'truncate', 'dimensions'],
  embeddings: ['model', 'prompt', 'options', 'priority', 'keep_alive'],
  show: ['model', 'name', 'verbose', 'priority'],
  'openai-chat': ['model', 'messages', 'max_tokens', 'stream', 'priority', 'temperature', 'top_p', 'stop', 'seed', 'n', 'tools', 'response_format', 'user'],
  'openai-completion': ['model', 'prompt', 'max_tokens', 'stream', 'priority', 'temperature', 'top_p', 'stop', 'seed', 'suffix', 'user'],
  'openai-embeddings': ['model', 'input', 'priority', 'encoding_format', 'dimensions', 'user'],
  pull: ['model', 'name', 'stream', 'insecure'],
  push: ['model', 'name', 'stream', 'insecure'],
  create: ['model', 'name', 'from', 'files', 'adapters', 'quantize', 'system', 'template', 'stream'],
  copy: ['source', 'destination'],
  delete: ['model', 'name'],
  'node-add': ['name', 'url', 'slots', 'weight', 'memoryGb', 'tokensPerSecond', 'labels'],
  heartbeat: ['name', 'url', 'slots', 'weight', 'memoryGb', 'tokensPerSecond', 'labels'],
  'node-patch': ['slots', 'weight', 'draining'],
  'key-create': ['tenant', 'name', 'weight', 'priorityFloor', 'models', 'rpm', 'tpm', 'expiresAt'],
  'key-patch': ['name', 'weight', 'priorityFloor', 'models', 'rpm', 'tpm', 'expiresAt'],
  'key-list': [],
  'key-get': [],
  'key-revoke': [],
  usage: [],
  'job-submit': ['route', 'body', 'priority'],
  'job-get': [],
  'job-cancel': [],
  'batch-create': ['input_file_id', 'endpoint', 'completion_window', 'metadata'],
  'batch-list': [],
  'batch-get': [],
  'batch-cancel': [],
  'file-upload': ['purpose', 'file'],
  'seed-chat': ['model', 'prompt', 'messages', 'options', 'stream', 'priority', 'format', 'keep_alive', 'think'],
  'seed-chat-stream': ['model', 'prompt', 'messages', 'options', 'stream', 'priority', 'format', 'keep_alive', 'think'],
  'seed-job': ['model', 'prompt', 'system', 'options', 'stream', 'priority', 'format', 'keep_alive', 'raw', 'context'],
  'agent-register': ['machine_name', 'ip_address', 'ollama_version', 'ollama_port'],
  'agent-health': ['agent_id', 'cpu_usage', 'memory_usage', 'active_requests'],
  'seed-node': [],
  'seed-models': [],
  'seed-healthz': [],
};

/** Numeric spots per family (dotted: inside options). */
const NUMERIC_SPOTS: Record<RouteFamily, readonly string[]> = {
  'herd-generate': ['options.num_predict', 'options.num_ctx', 'options.temperature', 'options.seed', 'options.top_k', 'keep_alive'],
  generate: ['options.num_predict', 'options.num_ctx', 'options.temperature', 'options.seed', 'options.top_k', 'keep_alive', 'context'],
  chat: ['options.num_predict', 'options.num_ctx', 'options.temperature', 'options.num_gpu', 'keep_alive'],
  embed: ['options.num_ctx', 'dimensions', 'keep_alive'],
  embeddings: ['options.num_ctx', 'keep_alive'],
  show: ['verbose'],
  'openai-chat': ['max_tokens', 'temperature', 'top_p', 'seed', 'n'],
  'openai-completion': ['max_tokens', 'temperature', 'top_p', 'seed'],
  'openai-embeddings': ['dimensions'],
  pull: ['stream'],
  push: ['stream'],
  create: ['quantize'],
  copy: ['source'],
  delete: ['model'],
  'node-add': ['slots', 'weight', 'memoryGb', 'tokensPerSecond'],
  heartbeat: ['slots', 'weight', 'memoryGb', 'tokensPerSecond'],
  'node-patch': ['slots', 'weight'],
  'key-create': ['weight', 'weight', 'rpm', 'rpm', 'tpm', 'tpm', 'priorityFloor', 'expiresAt'],
  'key-patch': ['weight', 'weight', 'rpm', 'rpm', 'tpm', 'tpm', 'priorityFloor', 'expiresAt'],
  'key-list': [],
  'key-get': [],
  'key-revoke': [],
  usage: [],
  'job-submit': ['priority', 'priority', 'route', 'body'],
  'job-get': [],
  'job-cancel': [],
  'batch-create': ['completion_window', 'metadata', 'input_file_id', 'endpoint'],
  'batch-list': [],
  'batch-get': [],
  'batch-cancel': [],
  'file-upload': ['purpose', 'file'],
  'seed-chat': ['options.num_predict', 'options.num_ctx', 'options.temperature', 'keep_alive'],
  'seed-chat-stream': ['options.num_predict', 'options.num_ctx', 'options.temperature', 'keep_alive'],
  'seed-job': ['options.num_predict', 'options.num_ctx', 'options.seed', 'keep_alive', 'context'],
  'agent-register': ['ollama_port', 'ollama_port', 'ollama_version'],
  'agent-health': ['cpu_usage', 'memory_usage', 'active_requests'],
  'seed-node': [],
  'seed-models': [],
  'seed-healthz': [],
};

/** Number literals at and beyond the edges (as JSON text: some cannot come out of JSON.stringify). */
const EXTREME_NUMBERS = [
  '1e308',
  '-1e308',
  '1.7976931348623157e308',
  '-1',
  '0',
  '-0',
  '9007199254740993',
  '9007199254740992',
  '-9007199254740993',
  '4294967296',
  '-2147483649',
  '1e309',
  '-1e309',
  `1${'0'.repeat(400)}`,
  '1e-400',
  `0.${'0'.repeat(400)}1`,
  '123456789012345678901234567890',
  '0.1',
  '"NaN"',
  '"Infinity"',
  '"-Infinity"',
  '"1e308"',
  '"-1"',
  '"0x10"',
  '""',
];

/** Values of each JSON type; `wrongValue` picks one whose type the field does not accept. */
const TYPED_VALUES: Record<JsonType, readonly unknown[]> = {
  string: ['fuzz-x', '', '   ', 'true', '1', 'null', '{}', '[]'],
  number: [1.5, 0.1, -2.5, raw('1e309'), raw('-1e309'), raw('5e-324')],
  integer: [0, -5, 1, 2147483648, raw('9007199254740993'), raw('1e308')],
  boolean: [true, false],
  null: [null],
  array: [[], [1], ['fuzz-x', 2, null], [[]], [{}], [{ role: 5 }], [true, false]],
  object: [{}, { a: 1 }, { model: 'fuzz-x' }, { length: 5 }, { 0: 'a' }, { toString: 'x' }],
};

function wrongValue(rng: Rng, field: string): { value: unknown; type: JsonType } {
  const accepted = FIELD_TYPES[field] ?? ['string'];
  const excluded = new Set<JsonType>(accepted);
  if (accepted.includes('number')) excluded.add('integer');
  const types = (Object.keys(TYPED_VALUES) as JsonType[]).filter((t) => !excluded.has(t));
  const type = pick(rng, types);
  return { value: pick(rng, TYPED_VALUES[type]), type };
}

// ---- valid bodies ---------------------------------------------------------------------------------------

function textModels(ctx: FuzzContext): readonly string[] {
  const plain = ctx.models.filter((m) => !/embed/i.test(m));
  return plain.length ? plain : ctx.models.length ? ctx.models : ['llama3'];
}
function embeddingModels(ctx: FuzzContext): readonly string[] {
  if (ctx.embedModels?.length) return ctx.embedModels;
  const emb = ctx.models.filter((m) => /embed/i.test(m));
  return emb.length ? emb : ctx.models.length ? ctx.models : ['llama3'];
}

/** The text field of a family's body (where a canary goes), if any. */
function textField(family: RouteFamily): 'prompt' | 'messages' | 'input' | undefined {
  switch (family) {
    case 'herd-generate':
    case 'generate':
    case 'embeddings':
    case 'openai-completion':
    case 'seed-chat':
    case 'seed-chat-stream':
    case 'seed-job':
      return 'prompt';
    case 'chat':
    case 'openai-chat':
      return 'messages';
    case 'embed':
    case 'openai-embeddings':
      return 'input';
    case 'show':
    case 'pull':
    case 'push':
    case 'create':
    case 'copy':
    case 'delete':
    case 'node-add':
    case 'heartbeat':
    case 'node-patch':
    case 'key-create':
    case 'key-patch':
    case 'key-list':
    case 'key-get':
    case 'key-revoke':
    case 'usage':
    case 'job-submit':
    case 'job-get':
    case 'job-cancel':
    case 'batch-create':
    case 'batch-list':
    case 'batch-get':
    case 'batch-cancel':
    case 'file-upload':
    case 'agent-register':
    case 'agent-health':
    case 'seed-node':
    case 'seed-models':
    case 'seed-healthz':
      return undefined;
  }
}

/** A well-formed body for the family (admin bodies name only things that do not exist). */
function validFields(rng: Rng, family: RouteFamily, ctx: FuzzContext, text = pick(rng, PROMPTS)): Fields {
  const model = pick(rng, textModels(ctx));
  const emb = pick(rng, embeddingModels(ctx));
  const tokens = int(rng, 1, 16);
  const n = int(rng, 0, 2);
  const fields: Fields = [];
  const maybe = (p: number, key: string, value: unknown): void => {
    if (chance(rng, p)) fields.push([key, value]);
  };
  switch (family) {
    case 'herd-generate':
      fields.push(['model', model], ['prompt', text], ['options', { num_predict: tokens }]);
      maybe(0.3, 'stream', chance(rng, 0.5));
      maybe(0.2, 'system', 'Be brief.');
      maybe(0.1, 'keep_alive', pick(rng, ['5m', 60, '0s']));
      break;
    case 'generate':
      fields.push(['model', model], ['prompt', text], ['stream', chance(rng, 0.5)], ['options', { num_predict: tokens }]);
      maybe(0.2, 'system', 'Be brief.');
      maybe(0.1, 'format', 'json');
      break;
    case 'chat':
      fields.push(['model', model], ['messages', [{ role: 'user', content: text }]], ['stream', chance(rng, 0.5)], ['options', { num_predict: tokens }]);
      break;
    case 'embed':
      fields.push(['model', emb], ['input', chance(rng, 0.5) ? text : [text, 'second']]);
      break;
    case 'embeddings':
      fields.push(['model', emb], ['prompt', text]);
      break;
    case 'show':
      fields.push(['model', model]);
      maybe(0.2, 'verbose', false);
      break;
    case 'openai-chat':
      fields.push(['model', model], ['messages', [{ role: 'user', content: text }]], ['max_tokens', tokens]);
      maybe(0.4, 'stream', chance(rng, 0.5));
      break;
    case 'openai-completion':
      fields.push(['model', model], ['prompt', text], ['max_tokens', tokens]);
      maybe(0.4, 'stream', chance(rng, 0.5));
      break;
    case 'openai-embeddings':
      fields.push(['model', emb], ['input', chance(rng, 0.5) ? text : [text, 'second']]);
      break;
    case 'pull':
      fields.push(['model', pick(rng, GHOST_REFS)], ['insecure', true], ['stream', chance(rng, 0.5)]);
      break;
    case 'push':
      fields.push(['model', pick(rng, GHOST_REFS)], ['insecure', true], ['stream', false]);
      break;
    case 'create':
      fields.push(['model', `fuzz-created-${n}`], ['from', pick(rng, GHOST_REFS)], ['stream', false]);
      break;
    case 'copy':
      fields.push(['source', `fuzz-missing-${n}`], ['destination', `fuzz-copy-${n}`]);
      break;
    case 'delete':
      fields.push(['model', `fuzz-missing-${n}`]);
      break;
    case 'node-add':
      fields.push(['name', `fuzz-node-${n}`], ['url', chance(rng, 0.5) ? 'http://127.0.0.1:1' : pick(rng, LOOPBACK_URLS)], ['slots', 1]);
      break;
    case 'heartbeat':
      fields.push(['name', `fuzz-hb-${n}`], ['url', chance(rng, 0.7) ? 'http://127.0.0.1:1' : pick(rng, LOOPBACK_URLS)], ['slots', int(rng, 1, 4)]);
      break;
    case 'node-patch':
      maybe(0.6, 'slots', int(rng, 1, 4));
      maybe(0.4, 'weight', 1);
      maybe(0.4, 'draining', false);
      break;
    case 'key-create':
      fields.push(['tenant', pick(rng, VALID_KEY_TENANTS)]);
      fields.push(...keySettings(rng, false));
      break;
    case 'key-patch':
      fields.push(...keySettings(rng, true));
      break;
    case 'job-submit': {
      // A job is a route and that route's body: a valid body of one of the inference routes.
      const inner = pick(rng, JOB_INNER_ROUTES);
      fields.push(['route', inner.path], ['body', new Entries(validFields(rng, inner.family, ctx, text))]);
      break;
    }
    case 'batch-create':
      fields.push(['input_file_id', `file-${hex(rng, 24)}`], ['endpoint', pick(rng, BATCH_ENDPOINTS)], ['completion_window', pick(rng, ['24h', '24h', '1h', '30s', '10m'])]);
      maybe(0.3, 'metadata', { purpose: 'herd fuzz', run: String(n) });
      break;
    case 'file-upload':
      fields.push(['purpose', 'batch'], ['file', JSONL_LINE]);
      break;
    case 'seed-chat':
    case 'seed-chat-stream': {
      fields.push(['model', model]);
      const shape = weighted(rng, { prompt: 4, messages: 2, both: 1 });
      if (shape !== 'prompt') fields.push(['messages', shape === 'both' ? [{ role: 'system', content: 'Be brief.' }] : [{ role: 'user', content: text }]]);
      if (shape !== 'messages') fields.push(['prompt', text]);
      fields.push(['options', { num_predict: tokens }]);
      maybe(0.1, 'keep_alive', pick(rng, ['5m', 60]));
      break;
    }
    case 'seed-job':
      fields.push(['model', model], ['prompt', text], ['options', { num_predict: tokens }]);
      maybe(0.5, 'stream', chance(rng, 0.5));
      maybe(0.2, 'system', 'Be brief.');
      break;
    case 'agent-register':
      // A node on a closed loopback port, named fuzz-: never a node of the fleet (those an operator added are a 409).
      fields.push(['machine_name', `fuzz-agent-${n}`], ['ip_address', pick(rng, ['127.0.0.1', '127.0.0.1', '::1'])]);
      maybe(0.6, 'ollama_version', pick(rng, ['0.6.4', '0.12.0', '']));
      fields.push(['ollama_port', 1]);
      break;
    case 'agent-health':
      fields.push(['agent_id', chance(rng, 0.8) ? agentIdFor(`fuzz-agent-${n}`) : agentIdFor(`fuzz-agent-${n}`).toUpperCase()]);
      maybe(0.6, 'cpu_usage', pick(rng, [0, 12.5, 100]));
      maybe(0.6, 'memory_usage', pick(rng, [0, 47.25, 100]));
      maybe(0.5, 'active_requests', int(rng, 0, 8));
      break;
    case 'key-list':
    case 'key-get':
    case 'key-revoke':
    case 'usage':
    case 'job-get':
    case 'job-cancel':
    case 'batch-list':
    case 'batch-get':
    case 'batch-cancel':
    case 'seed-node':
    case 'seed-models':
    case 'seed-healthz':
      break;
  }
  return fields;
}

const hex = (rng: Rng, n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[int(rng, 0, 15)]).join('');

/** One line of a batch input file (for a model no fleet has: nothing would run even if a form were accepted). */
const JSONL_LINE = '{"custom_id":"fuzz-1","method":"POST","url":"/v1/chat/completions","body":{"model":"fuzz-missing","messages":[{"role":"user","content":"hi"}],"max_tokens":4}}\n';

const VALID_KEY_TENANTS = ['fuzz-team-0', 'fuzz-team-1', 'fuzz-team-2', 'fuzz.b@c:d', `fuzz-${'a'.repeat(59)}`];
const VALID_KEY_MODELS: readonly string[][] = [['fuzz-*'], ['fuzz-?', 'fuzz-model:latest'], ['llama3*', 'nomic-embed-text'], ['*'], Array.from({ length: 100 }, (_, i) => `fuzz-${i}*`)];

/** Settings of a valid key body (PATCH may also remove the removable ones with null). */
function keySettings(rng: Rng, patch: boolean): Fields {
  const fields: Fields = [];
  const maybe = (p: number, key: string, value: () => unknown): void => {
    if (chance(rng, p)) fields.push([key, value()]);
  };
  const clear = (key: string, value: () => unknown): void => {
    if (patch && chance(rng, 0.15)) fields.push([key, null]);
    else maybe(0.35, key, value);
  };
  clear('name', () => pick(rng, ['herd fuzz', 'fuzz: ci', `fuzz ${'n'.repeat(95)}`]));
  maybe(0.35, 'weight', () => pick(rng, [0.01, 0.5, 1, 2.5, 1000]));
  maybe(0.35, 'priorityFloor', () => int(rng, 1, 10));
  clear('models', () => pick(rng, VALID_KEY_MODELS));
  clear('rpm', () => pick(rng, [1, 60, 1_000_000]));
  clear('tpm', () => pick(rng, [1, 100_000, 1_000_000_000]));
  clear('expiresAt', () => pick(rng, ['2099-12-31T00:00:00Z', '2099-01-01T12:30:00.000Z', '9999-12-31T23:59:59Z', '2099-06-01T00:00:00+02:00']));
  return fields;
}

// ---- field surgery --------------------------------------------------------------------------------------

const keyName = (k: Key): string => (k instanceof RawJson ? k.text : k);

function setField(fields: Fields, key: Key, value: unknown): Fields {
  const i = typeof key === 'string' ? fields.findIndex(([k]) => k === key) : -1;
  const out = fields.slice();
  if (i >= 0) out[i] = [key, value];
  else out.push([key, value]);
  return out;
}
function getField(fields: Fields, key: string): unknown {
  return fields.find(([k]) => k === key)?.[1];
}
const textOf = (value: unknown, fallback: string): string => (typeof value === 'string' ? value : fallback);
function withoutField(fields: Fields, key: string): Fields {
  return fields.filter(([k]) => k !== key);
}
/** Sets `a.b` (one level into an object field, created when absent or not an object). */
function setSpot(fields: Fields, spot: string, value: unknown): Fields {
  const [outer, inner] = spot.split('.');
  if (inner === undefined) return setField(fields, outer, value);
  const current = getField(fields, outer);
  let base: Fields = [];
  if (current instanceof Entries) base = [...current.entries] as Fields;
  else if (current && typeof current === 'object' && !Array.isArray(current) && !(current instanceof RawJson)) base = Object.entries(current) as Fields;
  return setField(fields, outer, new Entries(setField(base, inner, value)));
}

/** Adds the canary to the family's text field (and as an extra field, which Herd forwards too). */
function withCanary(fields: Fields, family: RouteFamily): Fields {
  let out = fields;
  if (family === 'job-submit') {
    // Into the job's body too: a job Herd wrongly took would carry it to a node later.
    const inner = JOB_INNER_ROUTES.find((r) => r.path === getField(out, 'route'));
    const body = getField(out, 'body');
    if (inner && body instanceof Entries) out = setField(out, 'body', new Entries(withCanary([...body.entries] as Fields, inner.family)));
  }
  switch (textField(family)) {
    case 'prompt':
      out = setField(out, 'prompt', `${MUST_REJECT_CANARY} ${textOf(getField(out, 'prompt'), '')}`);
      break;
    case 'messages':
      out = setField(out, 'messages', [{ role: 'user', content: MUST_REJECT_CANARY }]);
      break;
    case 'input':
      out = setField(out, 'input', MUST_REJECT_CANARY);
      break;
    case undefined:
      break;
  }
  return setField(out, 'x_fuzz_canary', MUST_REJECT_CANARY);
}

// ---- priority semantics ---------------------------------------------------------------------------------

const inRange = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 10;

/**
 * Whether a body priority (as parsed) is plainly out of range, so Herd must refuse the request. Ambiguous values
 * that a lenient Herd could read as a priority (null, "5", "") are not counted.
 */
export function bodyPriorityMustReject(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'number') return !inRange(value);
  if (typeof value === 'string') {
    const t = value.trim();
    return t !== '' && !(/^\d+$/.test(t) && inRange(Number(t)));
  }
  return true;
}

const BODY_PRIORITIES = ['0', '11', '-5', '1.5', '-0', '1e308', '-1e308', '9007199254740993', '1e309', '10.5', '100', '2147483648', '-2147483649', '0.5', '"abc"', '"0"', '"11"', '"5"', '"1.5"', '"NaN"', '"Infinity"', 'true', 'false', '[]', '[5]', '{}', '{"valueOf":5}', '""', 'null', '1.0', '1e0', '10', '1', '5.000000000000001', '0.99999999999999999999'];

/** Header values and whether each is plainly out of range (ambiguous spellings of 1-10 count as fine). */
const HEADER_PRIORITIES: ReadonlyArray<readonly [string | string[], boolean]> = [
  ['0', true],
  ['11', true],
  ['-5', true],
  ['1.5', true],
  ['abc', true],
  ['-0', true],
  ['Infinity', true],
  ['NaN', true],
  ['1e400', true],
  ['2147483648', true],
  ['null', true],
  ['true', true],
  ['[5]', true],
  ['\u00e9', true],
  ['9'.repeat(8000), true],
  ['abc'.repeat(2500), true],
  [['0', '0'], true],
  [['11', '12'], true],
  [['abc', 'abc'], true],
  ['', false],
  [' ', false],
  ['1', false],
  ['10', false],
  ['1e1', false],
  ['0x3', false],
  ['+5', false],
  ['05', false],
  ['4.0', false],
  ['5,5', false],
  [`${'0'.repeat(7999)}1`, false],
  [['1', '2'], false],
  [['0', '5'], false],
  [['5', '0'], false],
];

// ---- the kinds ------------------------------------------------------------------------------------------

interface Draft {
  fields?: Fields;
  /** Replaces fields when set (already text or bytes). */
  body?: string | Uint8Array;
  noBody?: boolean;
  /** Query string, without the `?`. */
  query?: string;
  headers: Record<string, string | string[]>;
  detail: string;
  chunked?: boolean;
  mustReject?: boolean;
  valid?: boolean;
}

const JSON_HEADERS = (): Record<string, string | string[]> => ({ 'content-type': 'application/json' });

function fieldsFor(rng: Rng, r: FuzzRoute): string[] {
  return chance(rng, 0.75) ? [...FAMILY_FIELDS[r.family]] : COMMON_FIELDS;
}

/** Tenants X-Herd-Tenant may name (keys off): every valid case of an inference route may carry one. */
const VALID_TENANTS = ['fuzz-team-a', 'fuzz-team-b', 'fuzz.c@d:e', 'shared'];
/** Well-formed /herd/usage queries (the days need not have data). */
const VALID_USAGE_QUERIES = ['', 'from=2026-12-01&to=2026-12-31', 'from=2026-01-01', 'to=2026-12-31', 'from=2024-02-29&to=2024-03-01', 'from=2025-01-01&to=2025-12-31'];

function validCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  let fields = validFields(rng, r.family, ctx);
  if (r.family === 'file-upload') return multipartCase(rng);
  if (!r.body) {
    if (r.family === 'batch-list') {
      const query = pick(rng, VALID_LIST_QUERIES);
      return { noBody: true, query: query || undefined, headers: {}, detail: `valid ?${query}` };
    }
    if (r.family !== 'usage') return { noBody: true, headers: {}, detail: 'valid' };
    const query = pick(rng, VALID_USAGE_QUERIES);
    const csv = chance(rng, 0.3);
    return { noBody: true, query: query || undefined, headers: csv ? { accept: 'text/csv' } : {}, detail: `valid ?${query}${csv ? ' as CSV' : ''}` };
  }
  const headers = JSON_HEADERS();
  let detail = 'valid';
  if (r.caller && chance(rng, 0.2)) {
    const tenant = pick(rng, VALID_TENANTS);
    headers['x-herd-tenant'] = tenant;
    detail += ` X-Herd-Tenant=${tenant}`;
  }
  if (r.queued || r.family === 'show') {
    const p = int(rng, 1, 10);
    const where = weighted(rng, { body: 4, header: 2, none: 4 });
    if (where === 'body') {
      fields = setField(fields, 'priority', p);
      detail += ` priority=${p}`;
    } else if (where === 'header') {
      headers['x-herd-priority'] = String(p);
      detail += ` X-Herd-Priority=${p}`;
    }
  }
  // A batch of a file that does not exist is never served.
  return { fields, headers, detail, valid: !r.admin && r.family !== 'batch-create' };
}

/** Well-formed list queries of GET /v1/batches (`after` need not name a batch; a bad `limit` means 20). */
const VALID_LIST_QUERIES = ['', 'limit=1', 'limit=100', 'limit=20&after=batch_000000000000000000000000', 'after=batch_ffffffffffffffffffffffff', 'limit=0', 'limit=101', 'limit=-1', 'limit=abc', 'after='];

function nestedWrongType(rng: Rng, r: FuzzRoute, fields: Fields): { fields: Fields; detail: string } | undefined {
  const wrongEl = (): unknown => pick(rng, [null, 5, 'fuzz-x', [], true, {}]);
  const spots: Array<() => { fields: Fields; detail: string }> = [];
  if (FAMILY_FIELDS[r.family].includes('messages')) {
    spots.push(() => {
      const w = wrongValue(rng, 'role');
      return { fields: setField(fields, 'messages', [new Entries([['role', w.value], ['content', 'hi']])]), detail: `messages[0].role=${w.type}` };
    });
    spots.push(() => {
      const w = wrongValue(rng, 'content');
      return { fields: setField(fields, 'messages', [new Entries([['role', 'user'], ['content', w.value]])]), detail: `messages[0].content=${w.type}` };
    });
    spots.push(() => ({ fields: setField(fields, 'messages', [wrongEl()]), detail: 'messages[0]=not-an-object' }));
    spots.push(() => {
      const w = wrongValue(rng, 'images');
      return { fields: setField(fields, 'messages', [new Entries([['role', 'user'], ['content', 'hi'], ['images', w.value]])]), detail: `messages[0].images=${w.type}` };
    });
    spots.push(() => ({ fields: setField(fields, 'messages', [{}, { role: 'user' }]), detail: 'messages=[{},{role}]' }));
  }
  if (FAMILY_FIELDS[r.family].includes('options')) {
    for (const opt of ['num_predict', 'temperature', 'stop', 'num_ctx']) {
      spots.push(() => {
        const w = wrongValue(rng, opt === 'stop' ? 'stop' : opt === 'temperature' ? 'temperature' : 'seed');
        return { fields: setSpot(fields, `options.${opt}`, w.value), detail: `options.${opt}=${w.type}` };
      });
    }
  }
  if (FAMILY_FIELDS[r.family].includes('input')) spots.push(() => ({ fields: setField(fields, 'input', ['fuzz-x', wrongEl(), wrongEl()]), detail: 'input=[string, wrong...]' }));
  if (r.family === 'openai-completion') spots.push(() => ({ fields: setField(fields, 'prompt', [1, 2, null]), detail: 'prompt=[numbers]' }));
  if (FAMILY_FIELDS[r.family].includes('tools')) spots.push(() => ({ fields: setField(fields, 'tools', [{ type: 'function', function: wrongEl() }]), detail: 'tools[0].function=wrong' }));
  if (FAMILY_FIELDS[r.family].includes('format')) spots.push(() => ({ fields: setField(fields, 'format', { type: 5, properties: [] }), detail: 'format={type:5}' }));
  if (FAMILY_FIELDS[r.family].includes('labels')) spots.push(() => ({ fields: setField(fields, 'labels', { a: wrongEl() }), detail: 'labels.a=wrong' }));
  if (FAMILY_FIELDS[r.family].includes('files')) spots.push(() => ({ fields: setField(fields, 'files', { 'x.gguf': wrongEl() }), detail: 'files[x]=wrong' }));
  if (FAMILY_FIELDS[r.family].includes('models')) spots.push(() => ({ fields: setField(fields, 'models', ['fuzz-*', wrongEl()]), detail: 'models=[pattern, wrong]' }));
  return spots.length ? pick(rng, spots)() : undefined;
}

function wrongTypeCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  const fields = validFields(rng, r.family, ctx);
  if (chance(rng, 0.3)) {
    const nested = nestedWrongType(rng, r, fields);
    if (nested) return { ...nested, headers: JSON_HEADERS() };
  }
  if (chance(rng, 0.1) && fields.length > 0) {
    const [gone] = pick(rng, fields);
    return { fields: withoutField(fields, keyName(gone)), headers: JSON_HEADERS(), detail: `missing ${keyName(gone)}` };
  }
  const field = pick(rng, fieldsFor(rng, r));
  const w = wrongValue(rng, field);
  return { fields: setField(fields, field, w.value), headers: JSON_HEADERS(), detail: `${field}=${w.type}` };
}

const isKeyFamily = (family: RouteFamily): boolean => family === 'key-create' || family === 'key-patch';

/**
 * Whether a key setting (as parsed) is plainly out of what the README allows, so Herd must refuse the body:
 * not a finite number, weight outside 0.01-1000, priorityFloor outside the integers 1-10, rpm or tpm not a
 * positive safe integer. Ambiguous values (a big but exact rpm, null in a PATCH) are not counted.
 */
export function keySettingMustReject(field: string, value: unknown): boolean {
  if (value === null) return false;
  if (typeof value !== 'number' || !Number.isFinite(value)) return ['weight', 'priorityFloor', 'rpm', 'tpm'].includes(field);
  switch (field) {
    case 'weight':
      return value < 0.01 || value > 1000;
    case 'priorityFloor':
      return !inRange(value);
    case 'rpm':
    case 'tpm':
      return !Number.isSafeInteger(value) || value < 1;
    default:
      return false;
  }
}

function extremeNumberCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  let fields = validFields(rng, r.family, ctx);
  const own = NUMERIC_SPOTS[r.family];
  const spots = own.length && chance(rng, 0.8) ? own : ['options.num_predict', 'max_tokens', 'slots', 'weight'];
  const count = int(rng, 1, 2);
  const parts: string[] = [];
  let mustReject = false;
  for (let i = 0; i < count; i++) {
    const spot = pick(rng, spots);
    const lit = pick(rng, EXTREME_NUMBERS);
    fields = setSpot(fields, spot, raw(lit));
    if (isKeyFamily(r.family) && keySettingMustReject(spot, JSON.parse(lit))) mustReject = true;
    parts.push(`${spot}=${lit.length > 24 ? `${lit.slice(0, 12)}…(${lit.length})` : lit}`);
  }
  return { fields, headers: JSON_HEADERS(), detail: parts.join(' '), mustReject };
}

function badPriorityCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  let fields = validFields(rng, r.family, ctx);
  const lit = pick(rng, BODY_PRIORITIES);
  const variant = weighted(rng, { plain: 6, 'dup-bad-last': 1, 'dup-bad-first': 1, escaped: 1, 'with-good-header': 1 });
  const headers = JSON_HEADERS();
  // A key's priority is its floor: the same values go there.
  const keyBody = isKeyFamily(r.family);
  const field = keyBody ? 'priorityFloor' : 'priority';
  let effective: string = lit;
  switch (variant) {
    case 'plain':
      fields = setField(fields, field, raw(lit));
      break;
    case 'dup-bad-last':
      fields = [[field, 3], ...withoutField(fields, field), [field, raw(lit)]];
      break;
    case 'dup-bad-first':
      fields = [[field, raw(lit)], ...withoutField(fields, field), [field, 3]];
      effective = '3';
      break;
    case 'escaped':
      fields = [...withoutField(fields, field), [raw(`"\\u0070riority${keyBody ? 'Floor' : ''}"`), raw(lit)]];
      break;
    case 'with-good-header':
      fields = setField(fields, field, raw(lit));
      headers['x-herd-priority'] = String(int(rng, 1, 10));
      break;
  }
  const parsed: unknown = JSON.parse(effective);
  const mustReject = keyBody ? keySettingMustReject('priorityFloor', parsed) : r.queued && bodyPriorityMustReject(parsed);
  if (mustReject && !keyBody) fields = withCanary(fields, r.family);
  return { fields, headers, detail: `${field}=${lit.length > 20 ? `${lit.slice(0, 12)}…` : lit} (${variant})`, mustReject };
}

function badPriorityHeaderCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  let fields = validFields(rng, r.family, ctx);
  const [value, plainlyBad] = pick(rng, HEADER_PRIORITIES);
  const headers = JSON_HEADERS();
  headers['x-herd-priority'] = value;
  let detail = `X-Herd-Priority=${Array.isArray(value) ? `[${value.join('|')}]` : value.length > 20 ? `${value.slice(0, 8)}…(${value.length})` : JSON.stringify(value)}`;
  let mustReject = plainlyBad && r.priorityHeader;
  if (chance(rng, 0.15)) {
    // A valid body priority wins over any header.
    fields = setField(fields, 'priority', int(rng, 1, 10));
    mustReject = false;
    detail += ' +body priority';
  }
  if (mustReject) fields = withCanary(fields, r.family);
  return { fields, headers, detail, mustReject };
}

/** An object key chain `{"k":{"k":...{"k":leaf}}}` as text, `depth` levels. */
function chain(key: Key, depth: number, leaf: string): RawJson {
  const k = key instanceof RawJson ? key.text : JSON.stringify(key);
  return raw(`${`{${k}:`.repeat(depth)}${leaf}${'}'.repeat(depth)}`);
}

function prototypeKeyCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  let fields = validFields(rng, r.family, ctx);
  const key = pick(rng, PROTO_KEYS);
  const values: unknown[] = [{}, { priority: 0 }, { model: 123 }, { polluted: 'yes' }, null, 1, 'fuzz-x', [], new Entries([['constructor', new Entries([['prototype', { polluted: 'yes' }]])]]), { toString: 'x' }, new Entries([['__proto__', { polluted: 'yes' }]])];
  const value = pick(rng, values);
  const places = ['top-first', 'top-last', 'deep-chain'];
  const fam = FAMILY_FIELDS[r.family];
  if (fam.includes('options')) places.push('options', 'options-deep');
  if (fam.includes('messages')) places.push('messages[0]', 'messages[0]', 'messages[1]');
  if (fam.includes('format')) places.push('format');
  if (fam.includes('tools')) places.push('tools[0]');
  if (fam.includes('input')) places.push('input[0]');
  if (fam.includes('labels')) places.push('labels', 'name-value');
  if (fam.includes('files')) places.push('files');
  if (fam.includes('models')) places.push('models[0]', 'tenant-value');
  if (fam.includes('metadata')) places.push('metadata', 'metadata');
  if (r.family === 'node-patch' || r.family === 'key-patch') places.push('top-first');
  const place = pick(rng, places);
  const entry = (base: Fields): Entries => new Entries([...base, [key, value]]);
  switch (place) {
    case 'top-first':
      fields = [[key, value], ...fields];
      break;
    case 'top-last':
      fields = [...fields, [key, value]];
      break;
    case 'deep-chain':
      // The key at every level of a nested object (here under an unknown field, which Herd forwards).
      fields = [...fields, [pick(rng, ['x_fuzz', 'options', 'format']), chain(key, int(rng, 2, 40), '{"polluted":"yes"}')]];
      break;
    case 'options':
      fields = setField(fields, 'options', entry([['num_predict', 8]]));
      break;
    case 'options-deep':
      fields = setField(fields, 'options', new Entries([['num_predict', 8], ['nested', new Entries([['deeper', entry([['a', 1]])]])]]));
      break;
    case 'messages[0]':
      fields = setField(fields, 'messages', [entry([['role', 'user'], ['content', 'hi']])]);
      break;
    case 'messages[1]':
      fields = setField(fields, 'messages', [{ role: 'system', content: 'be brief' }, entry([['role', 'user'], ['content', 'hi']])]);
      break;
    case 'format':
      fields = setField(fields, 'format', entry([['type', 'object']]));
      break;
    case 'tools[0]':
      fields = setField(fields, 'tools', [entry([['type', 'function'], ['function', entry([['name', 'f']])]])]);
      break;
    case 'input[0]':
      fields = setField(fields, 'input', [entry([['text', 'hi']])]);
      break;
    case 'labels':
      fields = setField(fields, 'labels', entry([['zone', 'a']]));
      break;
    case 'name-value':
      fields = setField(fields, 'name', keyName(key).replace(/"/g, ''));
      break;
    case 'files':
      fields = setField(fields, 'files', entry([['x.gguf', `sha256:${'0'.repeat(64)}`]]));
      break;
    case 'models[0]':
      fields = setField(fields, 'models', [entry([['pattern', 'fuzz-*']])]);
      break;
    case 'metadata':
      fields = setField(fields, 'metadata', entry([['run', 'fuzz']]));
      break;
    case 'tenant-value':
      // The prototype name as a value: a tenant (create) or a model pattern (patch).
      fields = r.family === 'key-create' ? setField(fields, 'tenant', keyName(key).replace(/"/g, '')) : setField(fields, 'models', [keyName(key).replace(/"/g, '')]);
      break;
  }
  const parts = [`${keyName(key)}@${place}`];
  const extra = weighted(rng, { none: 6, 'model=123': 2, 'priority=0': 2 });
  let mustReject = false;
  if (extra === 'model=123') fields = setField(fields, 'model', 123);
  if (extra === 'priority=0') {
    fields = setField(fields, 'priority', 0);
    mustReject = r.queued;
  }
  if (extra !== 'none') parts.push(extra);
  if (mustReject) fields = withCanary(fields, r.family);
  return { fields, headers: JSON_HEADERS(), detail: parts.join(' '), mustReject };
}

/** JSON string literals with lone surrogates, NULs and other oddities (as escapes: the text stays valid JSON). */
const ODD_STRINGS = ['"\\ud800"', '"\\udfff"', '"a\\ud800b"', '"\\udc00\\ud800"', '"\\u0000"', '"llama3\\u0000"', '"\\u0000llama3"', '"\\ufeff"', '"\\u202e"', '"\\u2028\\u2029"', '"\\uffff"', '"\\\\"', '"%00"', '"\\ud83d\\ude00"', '"\\u001b[31m"', '"\\r\\n\\r\\nX-Injected: 1"'];
/** Byte sequences that are not UTF-8 (or not allowed raw inside a JSON string). */
const ODD_BYTES: readonly number[][] = [[0x00], [0xff, 0xfe], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xe2, 0x82], [0x80], [0xf4, 0x90, 0x80, 0x80], [0x0a], [0x1f]];
const BYTES_MARK = 'FUZZ~BYTES~MARK';

/** Tenant names at and past the rule's edges (1-64 of letters, digits, `_ . @ : -`, not starting with a sign). */
const KEY_ODD_TENANTS: readonly unknown[] = [
  `fuzz-${'a'.repeat(60)}`,
  `fuzz-${'a'.repeat(100_000)}`,
  ...FUZZ_KEY_TENANTS,
  '__proto__',
  'constructor',
  'prototype',
  '__defineGetter__',
  '(unknown)',
  '(other)',
  '',
  ' fuzz',
  'fuzz ',
  '-fuzz',
  '.fuzz',
  'fuzz/x',
  'fuzz*',
  'fuzz%00',
  'fuzz,x',
  'fuzz-🦙',
  'ｆｕｚｚ',
  raw('"fuzz\\u0000"'),
  raw('"fuzz\\n"'),
  raw('"fuzz\\u202e"'),
  raw('"fuzz\\ud800"'),
];
/** Model pattern lists at and past the rule's edges (1-100 patterns of 1-200 characters). */
const KEY_ODD_MODELS: readonly unknown[] = [
  [],
  ['*'],
  ['**'],
  ['?'],
  ['*'.repeat(200)],
  ['*'.repeat(201)],
  [`${'*a'.repeat(99)}*`],
  ['a'.repeat(200)],
  ['a'.repeat(201)],
  Array.from({ length: 101 }, (_, i) => `fuzz-${i}`),
  Array.from({ length: 10_000 }, () => 'fuzz-*'),
  [''],
  [' '],
  ['fuzz-*', 'fuzz-*'],
  ['fuzz[a-z]'],
  ['fuzz{a,b}'],
  ['fuzz\\*'],
  ['../../*'],
  ['registry.ollama.ai/library/*'],
  ['__proto__'],
  ['constructor'],
  ['FUZZ*'],
  ['fuzz-🦙'],
  [raw('"fuzz\\u0000*"')],
  [raw('"fuzz\\ud800*"')],
  'fuzz-*',
  [['fuzz-*']],
  { 0: 'fuzz-*', length: 1 },
];
/** Expiry times: well-formed, malformed, past, at and beyond the ends of Date. */
const KEY_ODD_EXPIRES: readonly string[] = [
  '2099-12-31',
  '2099-12-31T00:00:00',
  '2099-02-30T00:00:00Z',
  '2099-12-31T24:00:00Z',
  '2099-12-31T23:59:60Z',
  '2099-12-31T00:00:00+25:00',
  '2099-12-31T00:00:00.123456789Z',
  '+275760-09-13T00:00:00Z',
  '+275760-09-13T00:00:00.001Z',
  '-000001-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  '1970-01-01T00:00:00Z',
  '2000-01-01T00:00:00Z',
  '0',
  'now',
  'P1D',
  '',
  '2099-12-31T00:00:00Z ',
  '２０９９-12-31T00:00:00Z',
];

function keyOddCase(rng: Rng, r: FuzzRoute, fields: Fields): Draft {
  const spots = r.family === 'key-create' ? ['tenant', 'tenant', 'models', 'models', 'expiresAt', 'name'] : ['models', 'models', 'expiresAt', 'name'];
  const spot = pick(rng, spots);
  let value: unknown;
  switch (spot) {
    case 'tenant':
      value = pick(rng, KEY_ODD_TENANTS);
      break;
    case 'models':
      value = pick(rng, KEY_ODD_MODELS);
      break;
    case 'expiresAt':
      value = pick(rng, KEY_ODD_EXPIRES);
      break;
    default:
      value = pick(rng, ['', 'x'.repeat(101), raw('"fuzz\\u0000"'), raw('"fuzz\\u001b[31m"'), raw('"\\u2028"'), 'herd fuzz 🦙', raw('"\\ud800"')]);
  }
  const shown = toJsonText(value);
  return { fields: setField(fields, spot, value), headers: JSON_HEADERS(), detail: `${spot}=${shown.length > 40 ? `${shown.slice(0, 30)}…(${shown.length})` : shown}` };
}

function oddStringCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  let fields = validFields(rng, r.family, ctx);
  if (isKeyFamily(r.family) && chance(rng, 0.6)) return keyOddCase(rng, r, fields);
  const odd = pick(rng, ODD_STRINGS);
  const target = weighted(rng, { value: 5, key: 3, bytes: 2 });
  const fieldKeys = fields.map(([k]) => keyName(k));
  if (target === 'value') {
    const textish = fieldKeys.filter((k) =>
      ['model', 'prompt', 'system', 'input', 'name', 'source', 'destination', 'from', 'url', 'messages', 'tenant', 'expiresAt', 'models', 'route', 'input_file_id', 'endpoint', 'completion_window', 'purpose', 'machine_name', 'ip_address', 'ollama_version', 'agent_id'].includes(k),
    );
    const field = textish.length ? pick(rng, textish) : 'model';
    if (field === 'messages') {
      const inRole = chance(rng, 0.3);
      fields = setField(fields, 'messages', [new Entries([['role', inRole ? raw(odd) : 'user'], ['content', inRole ? 'hi' : raw(odd)]])]);
      return { fields, headers: JSON_HEADERS(), detail: `messages[0].${inRole ? 'role' : 'content'}=${odd}` };
    }
    if (field === 'models') {
      fields = setField(fields, 'models', [raw(`"fuzz-*${odd.slice(1)}`)]);
      return { fields, headers: JSON_HEADERS(), detail: `models[0]=fuzz-*${odd}` };
    }
    if (r.admin) {
      // Admin names stay fuzz-only (and loopback references) with the oddity appended: never a real model.
      let current = textOf(getField(fields, field), 'fuzz-x');
      if (/^[a-z]+:\/\//.test(current)) current = `${current.replace(/\/$/, '')}/`; // the oddity goes in a URL's path
      fields = setField(fields, field, raw(`${JSON.stringify(current).slice(0, -1)}${odd.slice(1)}`));
    } else {
      fields = setField(fields, field, raw(odd));
    }
    return { fields, headers: JSON_HEADERS(), detail: `${field}=${odd}` };
  }
  if (target === 'key') {
    const keyText = pick(rng, ['"\\u0000"', '"model\\u0000"', '"\\ud800"', '""', '" model"', '"MODEL"', '"pri\\u0000ority"', '"\\udfff\\ud800"']);
    const inOptions = FAMILY_FIELDS[r.family].includes('options') && chance(rng, 0.4);
    fields = inOptions ? setField(fields, 'options', new Entries([['num_predict', 8], [raw(keyText), 1]])) : [...fields, [raw(keyText), pick(rng, [1, 'x', raw('"\\u0000"')])]];
    return { fields, headers: JSON_HEADERS(), detail: `key ${keyText}${inOptions ? ' in options' : ''}` };
  }
  const bytes = pick(rng, ODD_BYTES);
  const field = fieldKeys.includes('prompt') ? 'prompt' : fieldKeys.includes('model') ? 'model' : (fieldKeys[0] ?? 'model');
  const current = getField(fields, field);
  const prefix = typeof current === 'string' ? current : 'fuzz-x';
  const text = fieldsText(setField(fields, field, `${prefix}${BYTES_MARK}`));
  const [before, after] = text.split(BYTES_MARK);
  const body = Buffer.concat([Buffer.from(before, 'utf8'), Buffer.from(bytes), Buffer.from(after, 'utf8')]);
  return { body, headers: JSON_HEADERS(), detail: `raw bytes ${bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')} in ${field}` };
}

function deepNestingCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  const fits = [1_000, 10_000, 50_000, 100_000].filter((d) => d * 8 + 512 < ctx.bodyLimitBytes);
  const depth = fits.length ? pick(rng, fits) : Math.max(10, Math.floor(ctx.bodyLimitBytes / 16));
  const shape = weighted(rng, { arrays: 3, objects: 3, mixed: 2, unclosed: 1 });
  let text: string;
  switch (shape) {
    case 'arrays':
      text = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      break;
    case 'objects':
      text = `${'{"a":'.repeat(depth)}0${'}'.repeat(depth)}`;
      break;
    case 'mixed':
      text = `${'[{"a":'.repeat(depth)}0${'}]'.repeat(depth)}`;
      break;
    case 'unclosed':
      text = pick(rng, ['[', '{"a":']).repeat(depth);
      break;
  }
  const fam = FAMILY_FIELDS[r.family];
  const places = ['whole-body', 'x_deep', ...fam.filter((f) => ['options', 'prompt', 'messages', 'format', 'input', 'tools', 'model', 'labels', 'images', 'context', 'models', 'tenant', 'body', 'metadata'].includes(f))];
  const place = pick(rng, places);
  const detail = `${shape} depth ${depth} @${place}`;
  if (place === 'whole-body') return { body: text, headers: JSON_HEADERS(), detail };
  return { fields: setField(validFields(rng, r.family, ctx), place, raw(text)), headers: JSON_HEADERS(), detail };
}

function malformedCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  const good = fieldsText(validFields(rng, r.family, ctx));
  const forms: Array<[string, () => string]> = [
    ['truncated', () => good.slice(0, int(rng, 0, good.length - 1))],
    ['trailing comma', () => `${good.slice(0, -1)},}`],
    ['single quotes', () => good.replace(/"/g, "'")],
    ['unquoted keys', () => good.replace(/"(\w+)":/g, '$1:')],
    ['comment', () => `/* fuzz */${good}`],
    ['line comment', () => `${good}// fuzz`],
    ['NaN literal', () => `${good.slice(0, -1)},"x":NaN}`],
    ['undefined literal', () => `${good.slice(0, -1)},"x":undefined}`],
    ['BOM', () => `\ufeff${good}`],
    ['trailing garbage', () => `${good}garbage`],
    ['two objects', () => `${good}${good}`],
    ['empty', () => ''],
    ['whitespace', () => ' \n\t '],
    ['null', () => 'null'],
    ['number', () => '0'],
    ['string', () => '"model"'],
    ['true', () => 'true'],
    ['empty array', () => '[]'],
    ['array of body', () => `[${good}]`],
    ['open brace', () => '{'],
    ['close brace', () => '}'],
    ['dangling key', () => '{"model":'],
    ['key without value', () => '{"model"}'],
    ['missing comma', () => '{"model":"x" "prompt":"y"}'],
    ['bad escape', () => '{"model":"\\x41"}'],
    ['short unicode escape', () => '{"model":"\\u12"}'],
    ['unterminated string', () => `{"model":"${'a'.repeat(int(rng, 1, 5000))}`],
    ['hex number', () => `${good.slice(0, -1)},"x":0x10}`],
    ['leading zeros', () => `${good.slice(0, -1)},"x":007}`],
    ['plus sign', () => `${good.slice(0, -1)},"x":+1}`],
    ['bare dot', () => `${good.slice(0, -1)},"x":.5}`],
  ];
  const [name, make] = pick(rng, forms);
  return { body: make(), headers: JSON_HEADERS(), detail: name };
}

/** encodeURIComponent that takes lone surrogates too (as U+FFFD). */
function formEncode(text: string): string {
  return encodeURIComponent(text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
}

function contentTypeCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  const fields = validFields(rng, r.family, ctx);
  const json = fieldsText(fields);
  const form = fields.map(([k, v]) => `${formEncode(keyName(k))}=${formEncode(typeof v === 'string' ? v : toJsonText(v))}`).join('&');
  const boundary = '----herd-fuzz-boundary';
  const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="body"\r\nContent-Type: application/json\r\n\r\n${json}\r\n--${boundary}--\r\n`;
  const variants: Array<[string, Record<string, string | string[]>, string | Uint8Array | undefined]> = [
    ['text/plain', { 'content-type': 'text/plain' }, json],
    ['text/plain;charset=utf-8', { 'content-type': 'text/plain; charset=utf-8' }, json],
    ['form-encoded', { 'content-type': 'application/x-www-form-urlencoded' }, form],
    ['form-encoded json', { 'content-type': 'application/x-www-form-urlencoded' }, json],
    ['no content-type', {}, json],
    ['no content-type, no body', {}, undefined],
    ['json, no body', { 'content-type': 'application/json' }, undefined],
    ['multipart', { 'content-type': `multipart/form-data; boundary=${boundary}` }, multipart],
    ['charset=utf-16', { 'content-type': 'application/json; charset=utf-16' }, json],
    ['charset=iso-8859-1', { 'content-type': 'application/json; charset=iso-8859-1' }, json],
    ['charset=bogus', { 'content-type': 'application/json; charset=fuzz-bogus' }, json],
    ['application/xml', { 'content-type': 'application/xml' }, '<request><model>fuzz-x</model></request>'],
    ['octet-stream', { 'content-type': 'application/octet-stream' }, json],
    ['APPLICATION/JSON', { 'content-type': 'APPLICATION/JSON' }, json],
    ['json;;', { 'content-type': 'application/json;;' }, json],
    ['malformed type', { 'content-type': '/' }, json],
    ['two content-types', { 'content-type': ['application/json', 'text/plain'] }, json],
    ['gzip garbage', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, json],
    ['deflate garbage', { 'content-type': 'application/json', 'content-encoding': 'deflate' }, json],
    ['br garbage', { 'content-type': 'application/json', 'content-encoding': 'br' }, json],
    ['unknown encoding', { 'content-type': 'application/json', 'content-encoding': 'x-fuzz' }, json],
  ];
  const [name, headers, body] = pick(rng, variants);
  return { body, noBody: body === undefined, headers: { ...headers }, detail: name };
}

function oversizeCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  const size = ctx.bodyLimitBytes + 1 + int(rng, 0, 1024);
  const head = Buffer.from(`{"model":${JSON.stringify(pick(rng, textModels(ctx)))},"prompt":"`, 'utf8');
  const tail = Buffer.from('"}', 'utf8');
  const body = Buffer.alloc(size, 0x61);
  head.copy(body, 0);
  tail.copy(body, size - tail.length);
  const chunked = chance(rng, 0.3);
  return { body, headers: JSON_HEADERS(), detail: `${size} bytes${chunked ? ' chunked' : ''} (limit ${ctx.bodyLimitBytes})`, chunked };
}

function bulkCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  const budget = Math.max(1024, Math.min(256 * 1024, Math.floor(ctx.bodyLimitBytes / 4)));
  let fields = validFields(rng, r.family, ctx);
  const what = FAMILY_FIELDS[r.family].includes('models')
    ? weighted(rng, { 'many keys': 2, 'many models': 3, 'long string': 2 })
    : weighted(rng, { 'many keys': 3, 'many options': 2, 'many messages': 2, 'many inputs': 2, 'long string': 2, 'long stop list': 1 });
  const count = (unit: number, cap: number): number => Math.max(1, Math.min(cap, Math.floor(budget / unit)));
  switch (what) {
    case 'many keys': {
      const n = count(12, 20_000);
      fields = [...fields, ...Array.from({ length: n }, (_, i): [Key, unknown] => [`k${i}`, i])];
      break;
    }
    case 'many options': {
      const n = count(14, 20_000);
      fields = setField(fields, 'options', Object.fromEntries([['num_predict', 8], ...Array.from({ length: n }, (_, i) => [`o${i}`, i])]));
      break;
    }
    case 'many messages': {
      const n = count(40, 2_000);
      fields = setField(fields, 'messages', Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `m${i}` })));
      break;
    }
    case 'many inputs':
      fields = setField(fields, 'input', Array.from({ length: count(8, 200) }, (_, i) => `i${i}`));
      break;
    case 'long string': {
      const field = fields.some(([k]) => k === 'prompt') ? 'prompt' : fields.some(([k]) => k === 'input') ? 'input' : 'x_fuzz_long';
      fields = setField(fields, field, 'a'.repeat(budget));
      break;
    }
    case 'long stop list':
      fields = setField(fields, chance(rng, 0.5) ? 'stop' : 'images', Array.from({ length: count(6, 10_000) }, (_, i) => `s${i}`));
      break;
    case 'many models':
      fields = setField(fields, 'models', Array.from({ length: count(12, 20_000) }, (_, i) => `fuzz-${i}*`));
      break;
  }
  return { fields, headers: JSON_HEADERS(), detail: what };
}

// ---- headers and query strings --------------------------------------------------------------------------

/**
 * X-Herd-Tenant values, and whether each is plainly not a tenant (so with keys off Herd must refuse the request,
 * whatever a server does with the bytes: Node refuses control characters and over-long headers itself). Values
 * a lenient reading could take as a tenant (surrounding spaces, a CR LF that starts another header, repeats
 * of which one is fine) are not counted. Characters above U+00FF go out as UTF-8 (see the runner).
 */
const TENANT_HEADERS: ReadonlyArray<readonly [string | string[], boolean]> = [
  ['a'.repeat(65), true],
  [`fuzz-${'a'.repeat(59)}`, false],
  ['a'.repeat(8000), true],
  ['a'.repeat(20_000), true],
  ['__proto__', true],
  ['constructor', true],
  ['prototype', true],
  ['__defineGetter__', true],
  ['hasOwnProperty', false],
  ['toString', false],
  ['valueOf', false],
  ['isPrototypeOf', false],
  ['\u0000', true],
  ['fuzz\u0000team', true],
  ['fuzz\u0001', true],
  ['fuzz\u007f', true],
  ['fuzz\u001b[31m', true],
  ['fuzz\tteam', true],
  ['fuzz\rteam', true],
  ['fuzz\nteam', true],
  ['fuzz-a\r\nX-Injected: 1', false],
  ['t\u00ebam', true],
  ['fuzz-\u00ff', true],
  ['🦙', true],
  ['fuzz-\u202e', true],
  ['\ufefffuzz', true],
  ['ｆｕｚｚ', true],
  ['fuzz team', true],
  ['fuzz,team', true],
  ['fuzz;team', true],
  ['"fuzz"', true],
  ['fuzz/../x', true],
  ['%00', true],
  ['-fuzz', true],
  ['.', true],
  ['(unknown)', true],
  ['(other)', true],
  ['shared', false],
  ['', false],
  ['   ', false],
  [' fuzz-team ', false],
  ['null', false],
  ['undefined', false],
  ['NaN', false],
  ['1e309', false],
  ['0', false],
  [['fuzz-a', 'fuzz-b'], false],
  [['fuzz-a', 'fuzz-a'], false],
  [['', 'fuzz-a'], false],
  [['__proto__', 'fuzz-a'], false],
  [['__proto__', '__proto__'], true],
  [['fuzz a', 'fuzz b'], true],
];

function tenantHeaderCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  let fields = validFields(rng, r.family, ctx);
  const [value, plainlyBad] = pick(rng, TENANT_HEADERS);
  // With keys on, X-Herd-Tenant is ignored: the request is the runner's, with its key.
  const mustReject = plainlyBad && ctx.auth !== 'keys';
  if (!r.body) return { noBody: true, headers: { 'x-herd-tenant': value }, detail: `X-Herd-Tenant=${showHeader(value)}`, mustReject };
  const headers = JSON_HEADERS();
  headers['x-herd-tenant'] = value;
  if (mustReject) fields = withCanary(fields, r.family);
  return { fields, headers, detail: `X-Herd-Tenant=${showHeader(value)}`, mustReject };
}

/** Authorization values: made up, malformed, or built around the runner's keys (placeholders). */
const AUTH_VALUES: ReadonlyArray<string | string[]> = [
  'Bearer',
  'Bearer ',
  'Bearer\t',
  `bearer ${FAKE_KEY}`,
  `BEARER ${FAKE_KEY}`,
  `Bearer ${FAKE_KEY}`,
  `Bearer ${FAKE_KEY.slice(0, -1)}`,
  `Bearer ${FAKE_KEY}x`,
  `Bearer herd_${'+'.repeat(43)}`,
  `Bearer herd_${'a'.repeat(10_000)}`,
  `Bearer ${'x'.repeat(8000)}`,
  `Bearer ${'x'.repeat(20_000)}`,
  'Basic ZnV6ejpmdXp6',
  `Token ${FAKE_KEY}`,
  `Bearer ${FAKE_KEY}\u0000`,
  `Bearer \u0000${FAKE_KEY}`,
  `Bearer ${FAKE_KEY}\u007f`,
  `Bearer ${FAKE_KEY}\r\nX-Injected: 1`,
  'Bearer __proto__',
  'Bearer constructor',
  'Bearer toString',
  'Bearer 🦙',
  'Bearer h\u00e9rd',
  `Bearer ${FAKE_KEY} ${FAKE_KEY}`,
  `Bearer ${FAKE_KEY}, Bearer ${FAKE_KEY}`,
  'Bearer null',
  'Bearer [object Object]',
  `Bearer\t${FAKE_KEY}`,
  `Bearer "${FAKE_KEY}"`,
  `Bearer ${FAKE_KEY.toUpperCase()}`,
  FAKE_KEY,
  '',
  `Bearer ${RUNNER_KEY_PLACEHOLDER}`,
  `bearer ${RUNNER_KEY_PLACEHOLDER}`,
  `Bearer   ${RUNNER_KEY_PLACEHOLDER}   `,
  `Bearer ${RUNNER_KEY_PLACEHOLDER}x`,
  `Bearer ${RUNNER_KEY_PLACEHOLDER}\u0000`,
  `Bearer ${RUNNER_KEY_PLACEHOLDER} ${FAKE_KEY}`,
  `Bearer ${RUNNER_KEY_PLACEHOLDER.toUpperCase()}`,
  RUNNER_KEY_PLACEHOLDER,
  `Basic ${RUNNER_KEY_PLACEHOLDER}`,
  `Bearer ${TARGET_KEY_PLACEHOLDER}`,
  [`Bearer ${FAKE_KEY}`, `Bearer ${RUNNER_KEY_PLACEHOLDER}`],
  [`Bearer ${RUNNER_KEY_PLACEHOLDER}`, `Bearer ${FAKE_KEY}`],
  [`Bearer ${RUNNER_KEY_PLACEHOLDER}`, `Bearer ${RUNNER_KEY_PLACEHOLDER}`],
  [`Bearer ${TARGET_KEY_PLACEHOLDER}`, `Bearer ${RUNNER_KEY_PLACEHOLDER}`],
];
/** X-Api-Key (and the admin and node key headers) values. */
const KEY_HEADER_VALUES: ReadonlyArray<string | string[]> = [
  FAKE_KEY,
  '',
  ' ',
  '__proto__',
  `Bearer ${RUNNER_KEY_PLACEHOLDER}`,
  RUNNER_KEY_PLACEHOLDER,
  ` ${RUNNER_KEY_PLACEHOLDER} `,
  `${RUNNER_KEY_PLACEHOLDER}\u0000`,
  TARGET_KEY_PLACEHOLDER,
  [FAKE_KEY, RUNNER_KEY_PLACEHOLDER],
  [RUNNER_KEY_PLACEHOLDER, FAKE_KEY],
  'x'.repeat(20_000),
  '🦙',
];

const usesRunnerKey = (value: string | string[]): boolean => [value].flat().some((v) => v.includes(RUNNER_KEY_PLACEHOLDER) || v.includes(TARGET_KEY_PLACEHOLDER));

function authHeaderCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  const base = validCase(rng, r, ctx);
  const headers = { ...base.headers };
  const names: Record<string, number> = { authorization: 6, 'x-api-key': 2, both: 2 };
  if (r.admin) names['x-herd-admin-key'] = 2;
  if (NODE_KEY_FAMILIES.has(r.family)) names['x-herd-node-key'] = 3;
  const which = weighted(rng, names);
  if (which === 'both') {
    headers.authorization = pick(rng, AUTH_VALUES);
    headers['x-api-key'] = pick(rng, KEY_HEADER_VALUES);
  } else {
    headers[which] = pick(rng, which === 'authorization' ? AUTH_VALUES : KEY_HEADER_VALUES);
  }
  const credentials = ['authorization', 'x-api-key'].flatMap((h) => (headers[h] === undefined ? [] : [headers[h]]));
  // With keys on, a request whose credentials are all made up must be refused; one naming a real key may not be.
  const mustReject = ctx.auth === 'keys' && r.caller && credentials.length > 0 && !credentials.some(usesRunnerKey);
  let fields = base.fields;
  if (mustReject && fields) fields = withCanary(fields, r.family);
  const shown = Object.entries(headers)
    .filter(([h]) => h !== 'content-type' && h !== 'x-herd-priority' && h !== 'accept')
    .map(([h, v]) => `${h}=${showHeader(v)}`);
  return { ...base, fields, headers, detail: shown.join(' '), valid: false, mustReject };
}

/** Query strings for any route: prototype keys, deep and many parameters, bad escapes, long values. */
const HOSTILE_QUERIES: readonly string[] = [
  '__proto__[polluted]=yes',
  '__proto__.polluted=yes',
  'constructor[prototype][polluted]=yes',
  'a[__proto__][polluted]=yes',
  'a[constructor][prototype][polluted]=yes',
  '__proto__=x',
  'toString=x',
  'hasOwnProperty=x',
  `a${'[b]'.repeat(60)}=1`,
  'a[]=1&a[]=2',
  'a[1000000]=x',
  'a[-1]=x',
  Array.from({ length: 1500 }, (_, i) => `p${i}=${i}`).join('&'),
  'priority=0',
  'model=fuzz-x',
  'stream=true',
  '%',
  '%zz',
  '%00',
  '%ED%A0%80',
  '%F0%9F%A6%99=%F0%9F%A6%99',
  '&&&',
  '=',
  '==',
  '?',
  'a=1;b=2',
  `a=${'x'.repeat(8000)}`,
  `a=${'x'.repeat(20_000)}`,
  'a b=c',
  'a=\u0000',
  'a=🦙',
];

/**
 * Queries of GET /herd/usage, and whether each is plainly refused by the README's rule (a bad date, `from` after
 * `to`, more than 366 days). Repeats, empty values and unknown parameters are left to Herd.
 */
const USAGE_QUERIES: ReadonlyArray<readonly [string, boolean]> = [
  ['from=2024-02-30', true],
  ['from=2026-02-29', true],
  ['from=2024-02-29&to=2024-02-29', false],
  ['from=2026-13-01', true],
  ['from=2026-00-10', true],
  ['from=2026-1-01', true],
  ['from=1969-12-31', true],
  ['from=0000-01-01', true],
  ['from=10000-01-01', true],
  ['from=9999-12-31&to=9999-12-31', false],
  ['from=9999-01-01&to=9999-12-31', false],
  ['from=2026-12-31&to=2026-12-01', true],
  ['from=2099-01-01', true],
  ['to=1970-01-01', false],
  ['from=1970-01-01&to=1970-12-31', false],
  ['from=2024-01-01&to=2024-12-31', false],
  ['from=2023-01-01&to=2024-01-01', false],
  ['from=2023-01-01&to=2024-01-02', true],
  ['from=1970-01-01&to=9999-12-31', true],
  ['from=2026-01-01T00:00:00Z', true],
  ['from=2026-01-01%00', true],
  ['from=%00', true],
  ['from=+2026-01-01', true],
  ['from=%2B2026-01-01', true],
  ['from=%D9%A2%D9%A0%D9%A2%D9%A6-%D9%A0%D9%A1-%D9%A0%D9%A1', true],
  ['from=2026%E2%80%9001-01', true],
  ['from=1700000000', true],
  ['from=now', true],
  [`from=${'9'.repeat(5000)}`, true],
  ['from=', false],
  ['to=', false],
  ['from', false],
  ['from=2026-01-01&from=2026-01-02', false],
  ['from[]=2026-01-01', false],
  ['from[0]=2026-01-01&from[1]=2026-01-02', false],
  ['from[__proto__]=x', false],
  ['from[length]=1', false],
  ['FROM=2026-01-01', false],
  ['from=2026-01-01&x=1', false],
  ['from=2026-01-01&to=2026-01-01', false],
];
const ACCEPTS = ['text/csv;q=0, application/json', '*/*', 'text/*', 'application/xml', 'text/csv, application/json;q=0.9', 'text/csv;charset=utf-16', `text/csv${';q=1'.repeat(500)}`, '', '\u00e9'];

function hostileQueryCase(rng: Rng, r: FuzzRoute, ctx: FuzzContext): Draft {
  const base = validCase(rng, r, ctx);
  const headers = { ...base.headers };
  let query: string;
  let mustReject = false;
  if (r.family === 'usage' && chance(rng, 0.75)) {
    [query, mustReject] = pick(rng, USAGE_QUERIES);
    if (chance(rng, 0.25)) headers.accept = pick(rng, ACCEPTS);
  } else {
    query = pick(rng, HOSTILE_QUERIES);
  }
  const shown = query.length > 60 ? `${query.slice(0, 40)}…(${query.length})` : query;
  return { ...base, headers, query, detail: `?${shown}${headers.accept ? ` Accept=${showHeader(headers.accept)}` : ''}`, valid: false, mustReject };
}

function showHeader(value: string | string[]): string {
  if (Array.isArray(value)) return `[${value.map(showHeader).join('|')}]`;
  const text = JSON.stringify(value.length > 40 ? value.slice(0, 24) : value);
  return value.length > 40 ? `${text}…(${value.length})` : text;
}

const BUILDERS: Record<CaseKind, (rng: Rng, r: FuzzRoute, ctx: FuzzContext) => Draft> = {
  valid: validCase,
  'wrong-type': wrongTypeCase,
  'extreme-number': extremeNumberCase,
  'bad-priority': badPriorityCase,
  'bad-priority-header': badPriorityHeaderCase,
  'prototype-key': prototypeKeyCase,
  'odd-string': oddStringCase,
  'deep-nesting': deepNestingCase,
  'malformed-json': malformedCase,
  'content-type': contentTypeCase,
  oversize: oversizeCase,
  bulk: bulkCase,
  'tenant-header': tenantHeaderCase,
  'auth-header': authHeaderCase,
  'hostile-query': hostileQueryCase,
};

/** By each route's weight: an inference route is picked three times as often as an admin route. */
function pickRoute(rng: Rng, routes: readonly FuzzRoute[]): FuzzRoute {
  const total = routes.reduce((s, r) => s + r.weight, 0);
  let x = rng() * total;
  for (const r of routes) {
    x -= r.weight;
    if (x < 0) return r;
  }
  return routes[routes.length - 1];
}

/** Ids of jobs and batches: well-formed ones nobody made (random), and ids no Herd could make. */
function unknownId(rng: Rng, prefix: 'job_' | 'batch_'): string {
  if (chance(rng, 0.4)) return `${prefix}${hex(rng, 24)}`;
  return pick(rng, [
    `${prefix}${'0'.repeat(24)}`,
    `${prefix}${'f'.repeat(24)}`,
    `${prefix.toUpperCase()}${'a'.repeat(24)}`,
    `${prefix}${'A'.repeat(24)}`,
    `${prefix}${'0'.repeat(23)}`,
    `${prefix}${'0'.repeat(25)}`,
    `${prefix}${'g'.repeat(24)}`,
    prefix,
    `${prefix === 'job_' ? 'batch_' : 'job_'}${'0'.repeat(24)}`,
    `file-${'0'.repeat(24)}`,
    `${prefix}${'0'.repeat(24)}%00`,
    `${prefix}${'0'.repeat(24)}%0a`,
    `${prefix}%2e%2e`,
    ...KEY_IDS.filter((id) => !id.startsWith('key_') && !id.startsWith('KEY_')),
  ]);
}
/** Node ids of GET /nodes/:id: nodes the run may have made, and names no node has. */
const NODE_IDS = ['fuzz-hb-0', 'fuzz-agent-0', 'fuzz-agent-1', 'fuzz-node-0', ...PATCH_NAMES, 'length', 'size', '__defineGetter__', 'valueOf', '%2e%2e%2fhealthz'];

/** The path of a case: `:name` (nodes) and `:id` (keys, jobs, batches, nodes) filled in. */
function fillPath(rng: Rng, r: FuzzRoute): string {
  if (r.path.includes(':name')) return r.path.replace(':name', pick(rng, PATCH_NAMES));
  if (!r.path.includes(':id')) return r.path;
  if (r.family === 'job-get' || r.family === 'job-cancel') return r.path.replace(':id', unknownId(rng, 'job_'));
  if (r.family === 'batch-get' || r.family === 'batch-cancel') return r.path.replace(':id', unknownId(rng, 'batch_'));
  if (r.family === 'seed-node') return r.path.replace(':id', pick(rng, NODE_IDS));
  // PATCH and GET go to the runner's own key half the time; DELETE never does (it stays to be patched).
  const own = r.family !== 'key-revoke' && chance(rng, 0.5);
  return r.path.replace(':id', own ? KEY_ID_PLACEHOLDER : pick(rng, KEY_IDS));
}

// ---- async jobs and uploads ------------------------------------------------------------------------------

/** Kinds that change only a body: for POST /herd/jobs they go, most of the time, into the job's own body. */
const JOB_BODY_KINDS: ReadonlySet<CaseKind> = new Set<CaseKind>(['wrong-type', 'extreme-number', 'bad-priority', 'prototype-key', 'odd-string', 'deep-nesting', 'bulk']);

/** A case of one inference route, its body wrapped as a job `{route, body}` (must-reject as that route's case). */
function jobBodyCase(rng: Rng, kind: CaseKind, ctx: FuzzContext): Draft {
  const inner = pick(rng, JOB_INNER_ROUTES);
  const d = BUILDERS[kind](rng, inner, ctx);
  const detail = `body of ${inner.path}: ${d.detail}`;
  const headers = JSON_HEADERS();
  if (d.fields) return { fields: [['route', inner.path], ['body', new Entries(d.fields)]], headers, detail, mustReject: d.mustReject };
  if (typeof d.body === 'string') return { fields: [['route', inner.path], ['body', raw(d.body)]], headers, detail, mustReject: d.mustReject };
  const head = Buffer.from(`{"route":${JSON.stringify(inner.path)},"body":`, 'utf8');
  const bytes = d.body === undefined ? Buffer.from('null') : Buffer.from(d.body);
  return { body: Buffer.concat([head, bytes, Buffer.from('}')]), headers, detail, mustReject: d.mustReject };
}

const FORM_BOUNDARY = 'herd-fuzz-form-7Qx';
const formType = (boundary = FORM_BOUNDARY): string => `multipart/form-data; boundary=${boundary}`;
const disposition = (name: string, filename?: string): string => `Content-Disposition: form-data; name="${name}"${filename === undefined ? '' : `; filename="${filename}"`}`;
type FormPart = readonly [head: string, data: string | Buffer];
const purposePart = (purpose: string): FormPart => [disposition('purpose'), purpose];
const filePart = (data: string | Buffer = JSONL_LINE, filename = 'fuzz.jsonl'): FormPart => [`${disposition('file', filename)}\r\nContent-Type: application/jsonl`, data];

/** A multipart/form-data body: each part's head and data, then `end` (the closing delimiter unless told). */
function formBody(parts: readonly FormPart[], end = `--${FORM_BOUNDARY}--\r\n`, boundary = FORM_BOUNDARY): Buffer {
  const out: Buffer[] = [];
  for (const [head, data] of parts) out.push(Buffer.from(`--${boundary}\r\n${head}\r\n\r\n`, 'utf8'), typeof data === 'string' ? Buffer.from(data, 'utf8') : data, Buffer.from('\r\n'));
  out.push(Buffer.from(end, 'utf8'));
  return Buffer.concat(out);
}

/** `purpose` values that are not "batch", however close. */
const BAD_PURPOSES = ['fine-tune', 'Batch', 'BATCH', 'batch ', ' batch', 'batch\r\n', '', 'assistants', 'batch\u0000', '__proto__', 'constructor', 'batch,batch', '"batch"', 'user_data', 'b\u0430tch', '🦙'];
const ODD_FILENAMES = ['../../etc/passwd', '..', '', '\u0000', 'a\\"b.jsonl', 'x'.repeat(300), '🦙.jsonl', '%00.jsonl', 'fuzz\r\nX-Injected: 1'];

/**
 * An upload to POST /v1/files that Herd must refuse: never a well-formed form with purpose "batch" and a "file" part
 * (so the run stores no file). Each variant is refused for a reason of its own: a purpose other than "batch", a
 * missing part, or a form the parser cannot read (cut short, no closing delimiter, wrong or missing boundary, bare
 * LF, a part without a name, too many parts, over-long part headers), or a file that is not UTF-8.
 */
function multipartCase(rng: Rng): Draft {
  const badPurpose = (): FormPart => purposePart(pick(rng, BAD_PURPOSES));
  const whole = (): Buffer => formBody([purposePart('batch'), filePart()]);
  const variants: Array<[string, () => [string | string[], string | Buffer]]> = [
    ['purpose not "batch"', () => [formType(), formBody([badPurpose(), filePart()])]],
    ['no purpose', () => [formType(), formBody([filePart()])]],
    ['no file', () => [formType(), formBody([purposePart('batch')])]],
    ['file under another name', () => [formType(), formBody([purposePart('batch'), [disposition(pick(rng, ['files', 'File', 'file[]', 'upload', '', '__proto__', 'constructor']), 'fuzz.jsonl'), JSONL_LINE]])]],
    ['purpose twice, the first not "batch"', () => [formType(), formBody([badPurpose(), purposePart('batch'), filePart()])]],
    ['file not UTF-8', () => [formType(), formBody([purposePart('batch'), filePart(Buffer.from(pick(rng, [[0xff, 0xfe, 0x7b], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0x7b, 0x80, 0x7d]])))])]],
    ['no closing delimiter', () => [formType(), formBody([purposePart('batch'), filePart()], '')]],
    [
      'cut short',
      () => {
        // Cut anywhere before the closing `--`: the parser never reaches the end of the form.
        const full = whole();
        return [formType(), full.subarray(0, int(rng, 0, full.length - 4))];
      },
    ],
    ['boundary not in the body', () => [formType('another-boundary-Zz9'), whole()]],
    ['no boundary parameter', () => [pick(rng, ['multipart/form-data', 'multipart/form-data;', 'multipart/form-data; boundary=', 'multipart/form-data; boundary=""', 'multipart/form-data; charset=utf-8']), whole()]],
    ['boundary over 70 characters', () => [formType('b'.repeat(71)), formBody([purposePart('batch'), filePart()], `--${'b'.repeat(71)}--\r\n`, 'b'.repeat(71))]],
    ['bare LF line endings', () => [formType(), Buffer.from(whole().toString('utf8').replace(/\r\n/g, '\n'), 'utf8')]],
    ['part without a name', () => [formType(), formBody([['Content-Disposition: form-data', 'batch'], purposePart('batch'), filePart()])]],
    ['part without Content-Disposition', () => [formType(), formBody([['Content-Type: text/plain', 'batch'], filePart()])]],
    ['attachment, not form-data', () => [formType(), formBody([['Content-Disposition: attachment; name="purpose"', 'batch'], filePart()])]],
    ['more than 16 parts', () => [formType(), formBody([purposePart('batch'), filePart(), ...Array.from({ length: int(rng, 15, 200) }, (_, i): FormPart => [disposition(`x${i}`), String(i)])])]],
    ['part headers over 8 KiB', () => [formType(), formBody([[`${disposition('purpose')}\r\nX-Fuzz: ${'h'.repeat(9000)}`, 'batch'], filePart()])]],
    ['multipart/mixed', () => [`multipart/mixed; boundary=${FORM_BOUNDARY}`, whole()]],
    ['prototype part names', () => [formType(), formBody([[disposition(pick(rng, ['__proto__', 'constructor', 'prototype', 'hasOwnProperty'])), 'batch'], badPurpose(), filePart()])]],
    ['odd filename', () => [formType(), formBody([badPurpose(), filePart(JSONL_LINE, pick(rng, ODD_FILENAMES))])]],
    ['quoted boundary', () => [`multipart/form-data; boundary="${FORM_BOUNDARY}"`, formBody([badPurpose(), filePart()])]],
    ['upper-case type', () => [`MULTIPART/FORM-DATA; BOUNDARY=${FORM_BOUNDARY}`, formBody([badPurpose(), filePart()])]],
    ['two content types', () => [[formType(), 'application/json'], formBody([badPurpose(), filePart()])]],
    ['bytes only', () => [formType(), Buffer.from(Array.from({ length: int(rng, 1, 4096) }, () => int(rng, 0x80, 0xff)))]],
    ['empty body', () => [formType(), '']],
    ['closing delimiter only', () => [formType(), `--${FORM_BOUNDARY}--\r\n`]],
    ['preamble and epilogue', () => [formType(), Buffer.concat([Buffer.from('preamble \r\n'), formBody([badPurpose(), filePart()]), Buffer.from('epilogue --')])]],
  ];
  const [name, make] = pick(rng, variants);
  const [type, body] = make();
  const chunked = chance(rng, 0.15);
  return { body, headers: { 'content-type': type }, detail: `multipart: ${name}${chunked ? ' (chunked)' : ''}`, chunked };
}

/** Kinds that, for POST /v1/files, usually send a form (the others send JSON or other types: refused as well). */
const FORM_KINDS: ReadonlySet<CaseKind> = new Set<CaseKind>(['odd-string', 'malformed-json', 'bulk', 'deep-nesting', 'wrong-type', 'prototype-key', 'extreme-number']);

/** Case `index` of the run with `seed`: always the same case for the same seed, index and context. */
export function generateCase(seed: number, index: number, ctx: FuzzContext): FuzzCase {
  const rng = caseRng(seed, index);
  const allowed = ctx.kinds?.length ? ctx.kinds : CASE_KINDS;
  const candidates = (ctx.routes?.length ? ctx.routes : FUZZ_ROUTES).filter((route) => allowed.some((k) => kindApplies(k, route)));
  if (candidates.length === 0) throw new Error(`no route takes any of the kinds ${allowed.join(', ')}`);
  const r = pickRoute(rng, candidates);
  const kinds = allowed.filter((k) => kindApplies(k, r));
  const kind = weighted(rng, Object.fromEntries(kinds.map((k) => [k, KIND_WEIGHTS[k]])) as Partial<Record<CaseKind, number>>);
  let draft: Draft;
  if (r.family === 'job-submit' && JOB_BODY_KINDS.has(kind) && chance(rng, 0.6)) draft = jobBodyCase(rng, kind, ctx);
  else if (r.family === 'file-upload' && FORM_KINDS.has(kind) && chance(rng, 0.6)) draft = multipartCase(rng);
  else draft = BUILDERS[kind](rng, r, ctx);
  let body: string | Uint8Array | undefined;
  if (draft.body !== undefined) body = draft.body;
  else if (!draft.noBody) body = fieldsText(draft.fields ?? []);
  const path = `${fillPath(rng, r)}${draft.query !== undefined ? `?${draft.query}` : ''}`;
  return {
    seed,
    index,
    route: r,
    path,
    kind,
    detail: draft.detail,
    headers: draft.headers,
    body,
    chunked: draft.chunked ?? false,
    valid: draft.valid ?? false,
    mustReject: draft.mustReject ?? false,
    alwaysRefused: ALWAYS_REFUSED.has(r.family),
  };
}

/** Cases 0..count-1 of a run, one at a time (bodies can be large: nothing is kept). */
export function* generateCases(seed: number, count: number, ctx: FuzzContext): Generator<FuzzCase> {
  for (let i = 0; i < count; i++) yield generateCase(seed, i, ctx);
}

/** Every `scheme://host` in a body whose host is not 127.0.0.1 (the generator promises there are none). */
export function nonLoopbackUrls(body: string | Uint8Array | undefined): string[] {
  if (body === undefined) return [];
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('latin1');
  const bad: string[] = [];
  for (const m of text.matchAll(/[a-z][a-z0-9+.-]{0,30}:\/\/([^/?#"'\s]{0,300})/gi)) {
    const host = m[1].replace(/^[^@]*@/, '').split(':')[0];
    // A body cut short (malformed-json `truncated`) may end inside the address: `http://127.` goes nowhere.
    const cut = m.index + m[0].length === text.length && '127.0.0.1'.startsWith(host);
    if (host !== '127.0.0.1' && !cut) bad.push(m[0]);
  }
  return bad;
}

/** A short printable form of a body: its size and the start, escaped. */
export function bodyExcerpt(body: string | Uint8Array | undefined, max = 160): string {
  if (body === undefined) return '(no body)';
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const shown = JSON.stringify(text.length > max ? text.slice(0, max) : text);
  return `${shown}${text.length > max ? '…' : ''} (${bytes} bytes)`;
}
