import { ChunkWriter, NDJSON_TYPE } from './chunk-writer';
import { sha256Hex } from './hash';
import { badRequest, HttpError, modelMissingError, modelRequiredError, nativeErrorBody } from './http-errors';
import { type JsonObject, optBool, optObject, optString, parseJsonObject } from './json-body';
import { describeModel, type ModelEntry, modelDetails, showBody, tagsRow } from './model-catalog';
import { normaliseModelName } from './model-names';
import type { NodeServices } from './node-services';
import type { RequestContext } from './request-context';

/** Metadata and admin routes: none of them takes a slot. */

/** Far-future expiry Ollama shows for keep_alive < 0. */
const FOREVER_MS = Date.UTC(2318, 0, 1);

export async function handleRoot(_node: NodeServices, rc: RequestContext): Promise<void> {
  rc.replyBody(200, 'text/plain; charset=utf-8', 'Ollama is running');
}

export async function handleVersion(node: NodeServices, rc: RequestContext): Promise<void> {
  rc.replyJson(200, { version: node.options.version });
}

export async function handleTags(node: NodeServices, rc: RequestContext): Promise<void> {
  const models = node.store.list().sort((a, b) => b.modifiedAt.getTime() - a.modifiedAt.getTime());
  rc.replyJson(200, { models: models.map(tagsRow) });
}

export async function handlePs(node: NodeServices, rc: RequestContext): Promise<void> {
  const models = node.store.residentModels().map(({ entry, expiresAt }) => ({
    name: entry.name,
    model: entry.name,
    size: entry.sizeBytes,
    digest: entry.digest,
    details: modelDetails(entry),
    expires_at: new Date(Math.min(expiresAt, FOREVER_MS)).toISOString(),
    size_vram: entry.sizeBytes,
    context_length: Math.min(entry.contextLength, 4096),
  }));
  rc.replyJson(200, { models });
}

/** `model`, or the legacy `name`. */
function nameField(body: JsonObject, struct: string): string | undefined {
  const model = optString(body, 'model', struct);
  if (model !== undefined && model !== '') return model;
  const name = optString(body, 'name', struct);
  return name !== undefined && name !== '' ? name : undefined;
}

export async function handleShow(node: NodeServices, rc: RequestContext): Promise<void> {
  const body = parseJsonObject(rc.body, 'api.ShowRequest');
  const name = nameField(body, 'ShowRequest');
  if (name === undefined) throw modelRequiredError();
  rc.entry.model = normaliseModelName(name);
  const entry = node.store.find(name);
  if (!entry) throw modelMissingError(name);
  rc.replyJson(200, showBody(entry));
}

export async function handleDelete(node: NodeServices, rc: RequestContext): Promise<void> {
  const body = parseJsonObject(rc.body, 'api.DeleteRequest');
  const name = nameField(body, 'DeleteRequest');
  if (name === undefined) throw modelRequiredError();
  rc.entry.model = normaliseModelName(name);
  if (!node.store.remove(name)) throw modelMissingError(name);
  rc.replyEmpty(200);
}

export async function handleCopy(node: NodeServices, rc: RequestContext): Promise<void> {
  const body = parseJsonObject(rc.body, 'api.CopyRequest');
  const source = optString(body, 'source', 'CopyRequest') ?? '';
  const destination = optString(body, 'destination', 'CopyRequest') ?? '';
  if (source.trim() === '') throw badRequest(`source "${source}" is invalid`);
  if (destination.trim() === '') throw badRequest(`destination "${destination}" is invalid`);
  rc.entry.model = normaliseModelName(source);
  const entry = node.store.find(source);
  if (!entry) throw new HttpError(404, `model "${source}" not found`, 'not_found');
  const name = normaliseModelName(destination);
  // a copy shares the manifest, hence the digest
  node.store.put({ ...entry, name, key: name.toLowerCase(), modifiedAt: new Date() });
  rc.replyEmpty(200);
}

/** A progress step of pull / push / create: a status line, then (simulated) time passes. */
interface Step {
  line: Record<string, unknown>;
  /** Simulated ms spent before the next line. */
  ms: number;
}

/**
 * Streams progress lines (or, with stream:false, waits and answers the last one), then runs `commit`.
 * A client that goes away cancels it before commit.
 */
async function runProgress(
  node: NodeServices,
  rc: RequestContext,
  stream: boolean,
  steps: Step[],
  commit: () => void,
): Promise<void> {
  const writer = stream ? new ChunkWriter(rc, NDJSON_TYPE) : null;
  for (let i = 0; i < steps.length; i++) {
    const { line, ms } = steps[i];
    const last = i === steps.length - 1;
    if (last) commit();
    if (writer) {
      const fault = rc.currentFault();
      if (fault?.kind === 'error500') {
        rc.entry.outcome = 'fault';
        const message = fault.message ?? 'simulated failure';
        writer.fail(500, message, nativeErrorBody(message) + '\n');
        return;
      }
      const text = JSON.stringify(line) + '\n';
      if (last) writer.end([text]);
      else if (!writer.write([text])) return;
    } else if (last) {
      rc.replyJson(200, line);
    }
    if (!last && ms > 0) await node.sleepSim(ms, rc.signal);
  }
}

function layerDigests(entry: ModelEntry): Array<{ digest: string; size: number }> {
  const layers = [{ digest: `sha256:${entry.digest}`, size: entry.sizeBytes }];
  for (const part of ['template', 'license', 'params']) {
    layers.push({ digest: `sha256:${sha256Hex(`${entry.name}/${part}`)}`, size: 100 + (sha256Hex(part).charCodeAt(0) % 12) * 1000 });
  }
  return layers;
}

export async function handlePull(node: NodeServices, rc: RequestContext): Promise<void> {
  const body = parseJsonObject(rc.body, 'api.PullRequest');
  const name = nameField(body, 'PullRequest');
  if (name === undefined) throw modelRequiredError();
  const stream = optBool(body, 'stream', 'PullRequest') ?? true;
  rc.entry.model = normaliseModelName(name);
  const existing = node.store.find(name);
  const entry = existing ?? describeModel({ name }, new Date());
  const total = Math.max(200, node.options.loadMs * 1.5);
  const steps: Step[] = [{ line: { status: 'pulling manifest' }, ms: total * 0.1 }];
  const layers = layerDigests(entry);
  const [main, ...small] = layers;
  const short = (digest: string): string => digest.slice('sha256:'.length, 'sha256:'.length + 12);
  for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
    steps.push({
      line: { status: `pulling ${short(main.digest)}`, digest: main.digest, total: main.size, completed: Math.round(main.size * fraction) },
      ms: total * 0.15,
    });
  }
  for (const layer of small) {
    steps.push({ line: { status: `pulling ${short(layer.digest)}`, digest: layer.digest, total: layer.size, completed: layer.size }, ms: 0 });
  }
  steps.push({ line: { status: 'verifying sha256 digest' }, ms: total * 0.1 });
  steps.push({ line: { status: 'writing manifest' }, ms: 0 });
  steps.push({ line: { status: 'success' }, ms: 0 });
  await runProgress(node, rc, stream, steps, () => {
    if (!node.store.find(name)) node.store.put({ ...entry, modifiedAt: new Date() });
  });
}

export async function handlePush(node: NodeServices, rc: RequestContext): Promise<void> {
  const body = parseJsonObject(rc.body, 'api.PushRequest');
  const name = nameField(body, 'PushRequest');
  if (name === undefined) throw modelRequiredError();
  const stream = optBool(body, 'stream', 'PushRequest') ?? true;
  rc.entry.model = normaliseModelName(name);
  const entry = node.store.find(name);
  if (!entry) throw modelMissingError(name);
  const total = Math.max(200, node.options.loadMs);
  const steps: Step[] = [{ line: { status: 'retrieving manifest' }, ms: 0 }];
  for (const layer of layerDigests(entry)) {
    steps.push({ line: { status: 'starting upload', digest: layer.digest, total: layer.size }, ms: 0 });
    steps.push({ line: { status: `pushing ${layer.digest.slice(7, 19)}`, digest: layer.digest, total: layer.size, completed: layer.size }, ms: total * 0.2 });
  }
  steps.push({ line: { status: 'pushing manifest' }, ms: 0 });
  steps.push({ line: { status: 'success' }, ms: 0 });
  await runProgress(node, rc, stream, steps, () => undefined);
}

const DIGEST_PATTERN = /^sha256[:-]([0-9a-f]{64})$/;

/** 'sha256:<hex>' for a path digest, or null when it is not one. */
function canonicalDigest(raw: string): string | null {
  const m = DIGEST_PATTERN.exec(raw);
  return m ? `sha256:${m[1]}` : null;
}

function digestParam(rc: RequestContext): string {
  let raw: string;
  try {
    raw = decodeURIComponent(rc.path.slice('/api/blobs/'.length));
  } catch {
    raw = '';
  }
  return raw;
}

export async function handleHeadBlob(node: NodeServices, rc: RequestContext): Promise<void> {
  const raw = digestParam(rc);
  const digest = canonicalDigest(raw);
  if (!digest) throw badRequest('invalid digest format');
  if (!node.store.blobs.has(digest)) throw new HttpError(404, `blob "${raw}" not found`, 'not_found');
  rc.replyEmpty(200);
}

export async function handlePostBlob(node: NodeServices, rc: RequestContext): Promise<void> {
  const raw = digestParam(rc);
  const digest = canonicalDigest(raw);
  if (!digest) throw badRequest('invalid digest format');
  if (node.store.blobs.has(digest)) {
    rc.replyEmpty(200);
    return;
  }
  const actual = `sha256:${sha256Hex(rc.body)}`;
  if (actual !== digest) throw badRequest(`digest mismatch, expected "${raw}", got "${actual}"`);
  node.store.blobs.set(digest, rc.body.length);
  rc.replyEmpty(201);
}

/** FROM of a legacy Modelfile. */
function modelfileFrom(modelfile: string): string | undefined {
  const m = /^\s*FROM\s+(\S+)/im.exec(modelfile);
  return m ? m[1] : undefined;
}

export async function handleCreate(node: NodeServices, rc: RequestContext): Promise<void> {
  const S = 'CreateRequest';
  const body = parseJsonObject(rc.body, 'api.CreateRequest');
  const name = nameField(body, S);
  if (name === undefined) throw modelRequiredError();
  rc.entry.model = normaliseModelName(name);
  const stream = optBool(body, 'stream', S) ?? true;
  const modelfile = optString(body, 'modelfile', S);
  const from = optString(body, 'from', S) ?? (modelfile !== undefined ? modelfileFrom(modelfile) : undefined);
  const files = optObject(body, 'files', S);
  const adapters = optObject(body, 'adapters', S);
  const quantize = optString(body, 'quantize', S);
  const system = optString(body, 'system', S);
  const template = optString(body, 'template', S);

  const referenced: string[] = [];
  for (const map of [files, adapters]) {
    if (!map) continue;
    for (const [file, value] of Object.entries(map)) {
      if (typeof value !== 'string') throw badRequest(`json: cannot unmarshal ${typeof value} into Go struct field ${S}.files of type string (${file})`);
      referenced.push(value);
    }
  }
  if (from === undefined && referenced.length === 0) throw badRequest("neither 'from' or 'files' was specified");
  for (const raw of referenced) {
    const digest = canonicalDigest(raw);
    if (!digest || !node.store.blobs.has(digest)) throw badRequest(`blob "${raw}" not found`);
  }
  if (from !== undefined && canonicalDigest(from) && !node.store.blobs.has(canonicalDigest(from) ?? '')) {
    throw badRequest(`blob "${from}" not found`);
  }

  const base = from !== undefined ? node.store.find(from) : undefined;
  const described = describeModel({ name }, new Date());
  const entry: ModelEntry = base
    ? { ...base, name: described.name, key: described.key, digest: described.digest, parentModel: base.name, modifiedAt: new Date() }
    : described;
  if (quantize) entry.quantization = quantize.toUpperCase();
  if (system !== undefined) entry.system = system;
  if (template !== undefined) entry.template = template;

  const steps: Step[] = [];
  const stepMs = 20;
  if (quantize) steps.push({ line: { status: `quantizing F16 model to ${quantize.toUpperCase()}` }, ms: stepMs * 5 });
  for (const raw of referenced) steps.push({ line: { status: `using existing layer ${canonicalDigest(raw)}` }, ms: stepMs });
  if (base) steps.push({ line: { status: `using existing layer sha256:${base.digest}` }, ms: stepMs });
  if (system !== undefined || template !== undefined || body.parameters !== undefined) {
    steps.push({ line: { status: `creating new layer sha256:${sha256Hex(JSON.stringify([system, template, body.parameters]))}` }, ms: stepMs });
  }
  steps.push({ line: { status: 'writing manifest' }, ms: stepMs });
  steps.push({ line: { status: 'success' }, ms: 0 });
  await runProgress(node, rc, stream, steps, () => node.store.put(entry));
}
