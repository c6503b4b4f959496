import { Agent } from 'node:http';
import { parseArgs } from 'node:util';
import { bodyExcerpt, CASE_KINDS, FUZZ_ROUTES, generateCase, type CaseKind, type FuzzContext } from './fuzz/hostile-bodies';
import { loopbackUrl } from './fuzz/inspect';
import { failureOf, fetchModels, formatKeys, formatReport, FuzzKeys, probeHerd, runFuzz, sendCase } from './fuzz/runner';

const HELP = `Sends generated hostile requests to every body-taking route of a running Herd, its API key and usage
routes, and hostile tenant and credential headers to its inference routes (loopback only).

usage: npm run fuzz -- [options]
  --n N             cases to send (default 10000)
  --url URL         Herd's base URL, loopback only (default http://127.0.0.1:3000)
  --seed N          seed of the run (default: random, printed); the same seed sends the same cases
  --concurrency N   requests in flight (default 8)
  --seconds N       start no case after this many seconds (default 300)
  --timeout-ms N    abandon a request not answered by then (default 30000)
  --body-limit X    Herd's HERD_BODY_LIMIT, e.g. 10mb (default: $HERD_BODY_LIMIT or 50mb)
  --no-admin        skip the admin routes (pull, push, create, copy, delete, /herd/nodes, /herd/keys, /herd/usage,
                    and the node registrations /api/agents and /api/health)
  --admin-key KEY   Herd's HERD_ADMIN_KEY, sent to admin routes (default: $HERD_ADMIN_KEY; unset is fine on loopback)
  --auth off|keys   Herd's HERD_AUTH (default: $HERD_AUTH or off); with keys the run makes a key for inference
  --kinds a,b       only these case kinds (${CASE_KINDS.join(', ')})
  --examples N      failure kinds to print (default 10)
  --case I          send only case I of the seed and print it in full (to replay a failure)

The run makes API keys (a PATCH target, every valid POST /herd/keys case, with HERD_AUTH=keys one for
inference) and revokes them all at the end.

Exit status: 0 when no failure; 1 when any answer was a 5xx other than 503/504, a request Herd must refuse was
accepted (an out-of-range priority, a bad X-Herd-Tenant, a made-up API key, a bad key setting or usage query), a
stream ended in an internal error, an API key showed up anywhere but in the answer that made it, a key of the run
was left active, or Herd stopped answering; 2 on bad usage.`;

function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!m) throw new Error(`--body-limit ${JSON.stringify(text)}: expected a size like 100kb or 50mb`);
  const unit = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[(m[2] ?? 'b').toLowerCase() as 'b'];
  return Math.floor(Number(m[1]) * unit);
}

function intOption(name: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} ${JSON.stringify(value)}: expected an integer from ${min} to ${max}`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      n: { type: 'string' },
      url: { type: 'string' },
      seed: { type: 'string' },
      concurrency: { type: 'string' },
      seconds: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'body-limit': { type: 'string' },
      'no-admin': { type: 'boolean' },
      'admin-key': { type: 'string' },
      auth: { type: 'string' },
      kinds: { type: 'string' },
      examples: { type: 'string' },
      case: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const url = values.url ?? 'http://127.0.0.1:3000';
  loopbackUrl(url);
  const n = intOption('n', values.n, 10_000, 1, 1_000_000);
  const seed = intOption('seed', values.seed, Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1);
  const concurrency = intOption('concurrency', values.concurrency, 8, 1, 256);
  const seconds = intOption('seconds', values.seconds, 300, 1, 86_400);
  const timeoutMs = intOption('timeout-ms', values['timeout-ms'], 30_000, 100, 3_600_000);
  const examples = intOption('examples', values.examples, 10, 0, 200);
  const bodyLimitBytes = parseBytes(values['body-limit'] ?? process.env.HERD_BODY_LIMIT ?? '50mb');
  const kinds = values.kinds?.split(',').map((k) => k.trim()).filter(Boolean) as CaseKind[] | undefined;
  const unknownKinds = (kinds ?? []).filter((k) => !CASE_KINDS.includes(k));
  if (unknownKinds.length) throw new Error(`--kinds: unknown ${unknownKinds.join(', ')} (known: ${CASE_KINDS.join(', ')})`);
  const auth = values.auth ?? process.env.HERD_AUTH ?? 'off';
  if (auth !== 'off' && auth !== 'keys') throw new Error(`--auth ${JSON.stringify(auth)}: expected off or keys`);
  const adminKey = values['admin-key'] ?? (process.env.HERD_ADMIN_KEY || undefined);

  const before = await probeHerd(url);
  if (!before.answering) {
    process.stderr.write(`herd fuzz: nothing answers GET ${url}/api/version (${before.version}); start Herd first (npm run demo)\n`);
    return 2;
  }
  const models = await fetchModels(url);
  if (models.length === 0) process.stderr.write('herd fuzz: GET /api/tags lists no model: valid bodies will name "llama3"\n');
  const context: FuzzContext = {
    models: models.length ? models : ['llama3'],
    bodyLimitBytes,
    kinds,
    routes: values['no-admin'] ? FUZZ_ROUTES.filter((r) => !r.admin) : FUZZ_ROUTES,
    auth,
  };

  if (values.case !== undefined) {
    const index = intOption('case', values.case, 0, 0, 10_000_000);
    const c = generateCase(seed, index, context);
    process.stdout.write(
      [`case ${index} of seed ${seed}: ${c.kind} (${c.detail})`, `${c.route.method} ${c.path}`, `headers: ${JSON.stringify(c.headers).slice(0, 400)}`, `body: ${bodyExcerpt(c.body, 2000)}`, ''].join('\n'),
    );
    // The same keys as in a run (a PATCH target, an inference key with --auth keys), revoked afterwards.
    const keys = new FuzzKeys(url, adminKey, auth, timeoutMs);
    if (auth === 'keys' || c.route.family.startsWith('key-')) await keys.setUp();
    const agent = new Agent({ keepAlive: false });
    const r = await sendCase(loopbackUrl(url), agent, c, timeoutMs, keys);
    agent.destroy();
    keys.observe(c, r);
    const echoes = keys.echoes();
    const audit = await keys.tearDown();
    process.stdout.write(`answer: ${r.outcome} in ${r.ms.toFixed(0)} ms${r.node ? ` [X-Herd-Node ${r.node}]` : ''}${r.errorCode ? ` [X-Herd-Error-Code ${r.errorCode}]` : ''}\n${r.excerpt}\n${formatKeys(audit)}\n`);
    const failure = failureOf(c, r) ?? (echoes.length ? 'key-echoed' : undefined);
    if (failure) process.stdout.write(`FAILURE: ${failure}\n`);
    return failure || audit.problems.length ? 1 : 0;
  }

  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.stderr.write(`herd fuzz: ${n} cases to ${url}, seed ${seed}, concurrency ${concurrency}, models ${context.models.join(', ')}\n`);
  const report = await runFuzz({ url, n, seed, concurrency, seconds, timeoutMs, context, signal: stop.signal, adminKey });
  const after = await probeHerd(url, 10_000);
  const healthLost = before.health === 200 && after.health !== 200;
  process.stdout.write(`${formatReport(report, examples)}\n\n`);
  process.stdout.write(`after the run: GET /api/version -> ${after.version}; GET /health -> ${after.health} (before: ${before.health})${after.health !== 200 ? ` ${after.healthText.slice(0, 200)}` : ''}\n`);
  const keysOk = report.keys.problems.length === 0;
  const ok = report.failureCount === 0 && after.answering && !healthLost && keysOk;
  process.stdout.write(ok ? 'result: PASS\n' : `result: FAIL${after.answering ? '' : ' (Herd stopped answering)'}${healthLost ? ' (Herd no longer healthy)' : ''}${keysOk ? '' : ' (API keys of the run not all revoked, or shown after the run)'}\n`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`herd fuzz: ${(err as Error).message}\n`);
    process.exit(2);
  },
);
