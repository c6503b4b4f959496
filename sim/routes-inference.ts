import { NDJSON_TYPE } from './chunk-writer';
import { isoNow, msToNs } from './clock';
import { type CompletionFormat, runCompletion, timingFields } from './completion-runner';
import { embedText, truncateEmbedding } from './embedding';
import { hash32 } from './hash';
import { badRequest, nativeErrorBody } from './http-errors';
import type { GenerationSpec } from './inference-engine';
import { type JsonObject, numPredictOf, optArray, optBool, optNumber, optObject, optString, parseJsonObject } from './json-body';
import { parseKeepAlive } from './keep-alive';
import type { ModelEntry } from './model-catalog';
import { type NodeServices, requireModel } from './node-services';
import { resolveOutputLength } from './output-length';
import { chatPromptTokens, rawPromptTokens } from './prompt-tokens';
import type { RequestContext } from './request-context';
import { contextIds, countTokens } from './token-text';

/** Native inference routes: /api/generate, /api/chat, /api/embed, /api/embeddings. */

function keepAliveOf(body: JsonObject): number {
  const parsed = parseKeepAlive(body.keep_alive);
  if (!parsed.ok) throw badRequest(parsed.message);
  return parsed.ms;
}

function generateFormat(model: string, contextSeed: number | null, reportCached: boolean): CompletionFormat {
  const prefix = `{"model":${JSON.stringify(model)},"created_at":"`;
  return {
    contentType: NDJSON_TYPE,
    tokenChunk: (token) => `${prefix}${isoNow()}","response":${JSON.stringify(token)},"done":false}\n`,
    finalChunks: (result, totalNs) => {
      const final: Record<string, unknown> = {
        model,
        created_at: isoNow(),
        response: '',
        done: true,
        done_reason: result.doneReason,
      };
      if (contextSeed !== null) final.context = contextIds(contextSeed, result.promptTokens + result.evalCount);
      return [JSON.stringify({ ...final, ...timingFields(result, totalNs, reportCached) }) + '\n'];
    },
    errorChunk: (message) => nativeErrorBody(message) + '\n',
    fullBody: (text, result, totalNs) => {
      const body: Record<string, unknown> = {
        model,
        created_at: isoNow(),
        response: text,
        done: true,
        done_reason: result.doneReason,
      };
      if (contextSeed !== null) body.context = contextIds(contextSeed, result.promptTokens + result.evalCount);
      return { ...body, ...timingFields(result, totalNs, reportCached) };
    },
  };
}

function chatFormat(model: string, reportCached: boolean): CompletionFormat {
  const prefix = `{"model":${JSON.stringify(model)},"created_at":"`;
  return {
    contentType: NDJSON_TYPE,
    tokenChunk: (token) =>
      `${prefix}${isoNow()}","message":{"role":"assistant","content":${JSON.stringify(token)}},"done":false}\n`,
    finalChunks: (result, totalNs) => [
      JSON.stringify({
        model,
        created_at: isoNow(),
        message: { role: 'assistant', content: '' },
        done_reason: result.doneReason,
        done: true,
        ...timingFields(result, totalNs, reportCached),
      }) + '\n',
    ],
    errorChunk: (message) => nativeErrorBody(message) + '\n',
    fullBody: (text, result, totalNs) => ({
      model,
      created_at: isoNow(),
      message: { role: 'assistant', content: text },
      done_reason: result.doneReason,
      done: true,
      ...timingFields(result, totalNs, reportCached),
    }),
  };
}

/** Empty prompt / messages: load the model (done_reason 'load'), or unload it when keep_alive is 0 ('unload'). */
async function loadOrUnload(
  node: NodeServices,
  rc: RequestContext,
  entry: ModelEntry,
  keepAliveMs: number,
  answer: (doneReason: 'load' | 'unload') => unknown,
): Promise<void> {
  if (keepAliveMs === 0) {
    node.store.unload(entry.key);
    rc.replyJson(200, answer('unload'));
    return;
  }
  await node.engine.loadOnly(rc, entry, keepAliveMs);
  rc.replyJson(200, answer('load'));
}

export async function handleGenerate(node: NodeServices, rc: RequestContext): Promise<void> {
  const S = 'GenerateRequest';
  const body = parseJsonObject(rc.body, 'api.GenerateRequest');
  const model = optString(body, 'model', S);
  const prompt = optString(body, 'prompt', S) ?? '';
  const system = optString(body, 'system', S) ?? '';
  const stream = optBool(body, 'stream', S) ?? true;
  const raw = optBool(body, 'raw', S) ?? false;
  const options = optObject(body, 'options', S);
  const keepAliveMs = keepAliveOf(body);
  const entry = requireModel(node, rc, model);
  const label = model ?? entry.name;
  if (entry.embeddingOnly) throw badRequest(`"${label}" does not support generate`);
  node.checkBusyFault();

  if (prompt === '') {
    await loadOrUnload(node, rc, entry, keepAliveMs, (doneReason) => ({
      model: label,
      created_at: isoNow(),
      response: '',
      done: true,
      done_reason: doneReason,
    }));
    return;
  }

  const seedKey = `${entry.name}\n${system}\n${prompt}`;
  const out = resolveOutputLength(numPredictOf(options), seedKey, node.options.maxOutputTokens);
  const seed = hash32(seedKey);
  const spec: GenerationSpec = {
    entry,
    prompt: rawPromptTokens(system, prompt),
    outputTokens: out.tokens,
    doneReason: out.doneReason,
    tokenSeed: seed,
    keepAliveMs,
  };
  const format = generateFormat(label, raw ? null : seed, node.options.reportCachedTokens);
  await runCompletion(node.engine, rc, spec, format, stream);
}

/** Message contents of a chat request; Go-like 400s for malformed messages. */
export function chatContents(messages: unknown[], struct: string): { roles: string[]; contents: string[] } {
  const roles: string[] = [];
  const contents: string[] = [];
  messages.forEach((message) => {
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      throw badRequest(`json: cannot unmarshal ${Array.isArray(message) ? 'array' : typeof message} into Go struct field ${struct}.messages of type api.Message`);
    }
    const m = message as JsonObject;
    roles.push(optString(m, 'role', 'Message') ?? '');
    contents.push(optString(m, 'content', 'Message') ?? '');
  });
  return { roles, contents };
}

export function chatSeedKey(modelName: string, roles: string[], contents: string[]): string {
  let key = modelName;
  for (let i = 0; i < contents.length; i++) key += `\n${roles[i]}:${contents[i]}`;
  return key;
}

export async function handleChat(node: NodeServices, rc: RequestContext): Promise<void> {
  const S = 'ChatRequest';
  const body = parseJsonObject(rc.body, 'api.ChatRequest');
  const model = optString(body, 'model', S);
  const messages = optArray(body, 'messages', S, '[]api.Message') ?? [];
  const stream = optBool(body, 'stream', S) ?? true;
  const options = optObject(body, 'options', S);
  const keepAliveMs = keepAliveOf(body);
  const { roles, contents } = chatContents(messages, S);
  const entry = requireModel(node, rc, model);
  const label = model ?? entry.name;
  if (entry.embeddingOnly) throw badRequest(`"${label}" does not support chat`);
  node.checkBusyFault();

  if (messages.length === 0) {
    await loadOrUnload(node, rc, entry, keepAliveMs, (doneReason) => ({
      model: label,
      created_at: isoNow(),
      message: { role: 'assistant', content: '' },
      done_reason: doneReason,
      done: true,
    }));
    return;
  }

  const seedKey = chatSeedKey(entry.name, roles, contents);
  const out = resolveOutputLength(numPredictOf(options), seedKey, node.options.maxOutputTokens);
  const spec: GenerationSpec = {
    entry,
    prompt: chatPromptTokens(roles, contents),
    outputTokens: out.tokens,
    doneReason: out.doneReason,
    tokenSeed: hash32(seedKey),
    keepAliveMs,
  };
  await runCompletion(node.engine, rc, spec, chatFormat(label, node.options.reportCachedTokens), stream);
}

/** Inputs of /api/embed: a string or an array of strings. */
function embedInputs(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) {
    if (!value.every((v) => typeof v === 'string')) throw badRequest('invalid input type');
    return value;
  }
  throw badRequest('invalid input type');
}

export interface EmbeddingBatch {
  vectors: number[][];
  promptTokens: number;
  loadNs: number;
  totalNs: number;
}

/**
 * Shared by /api/embed and /v1/embeddings: one slot, one load, prefill for all inputs, one vector per input.
 * `answer` runs while the slot is held.
 */
export async function computeEmbeddings(
  node: NodeServices,
  rc: RequestContext,
  entry: ModelEntry,
  inputs: string[],
  keepAliveMs: number,
  dimensions: number | undefined,
  answer: (batch: EmbeddingBatch) => void,
): Promise<void> {
  let promptTokens = 0;
  for (const input of inputs) promptTokens += Math.max(1, countTokens(input));
  await node.engine.embed(rc, entry, promptTokens, keepAliveMs, ({ loadNs }) => {
    const vectors = inputs.map((input) => {
      const vec = embedText(input, entry.embeddingDims);
      return dimensions !== undefined && dimensions > 0 ? truncateEmbedding(vec, dimensions) : vec;
    });
    answer({ vectors, promptTokens, loadNs, totalNs: msToNs(performance.now() - rc.t0) });
  });
}

export async function handleEmbed(node: NodeServices, rc: RequestContext): Promise<void> {
  const S = 'EmbedRequest';
  const body = parseJsonObject(rc.body, 'api.EmbedRequest');
  const model = optString(body, 'model', S);
  const dimensions = optNumber(body, 'dimensions', S);
  const keepAliveMs = keepAliveOf(body);
  const inputs = embedInputs(body.input);
  const entry = requireModel(node, rc, model);
  const label = model ?? entry.name;
  node.checkBusyFault();

  if (inputs.length === 0) {
    const start = performance.now();
    const loadNs = await node.engine.loadOnly(rc, entry, keepAliveMs);
    rc.replyJson(200, {
      model: label,
      embeddings: [],
      total_duration: msToNs(performance.now() - start),
      load_duration: loadNs,
      prompt_eval_count: 0,
    });
    return;
  }

  await computeEmbeddings(node, rc, entry, inputs, keepAliveMs, dimensions, (batch) =>
    rc.replyJson(200, {
      model: label,
      embeddings: batch.vectors,
      total_duration: batch.totalNs,
      load_duration: batch.loadNs,
      prompt_eval_count: batch.promptTokens,
    }),
  );
}

export async function handleEmbeddings(node: NodeServices, rc: RequestContext): Promise<void> {
  const S = 'EmbeddingRequest';
  const body = parseJsonObject(rc.body, 'api.EmbeddingRequest');
  const model = optString(body, 'model', S);
  const prompt = optString(body, 'prompt', S) ?? '';
  const keepAliveMs = keepAliveOf(body);
  const entry = requireModel(node, rc, model);
  node.checkBusyFault();

  if (prompt === '') {
    await node.engine.loadOnly(rc, entry, keepAliveMs);
    rc.replyJson(200, { embedding: [] });
    return;
  }
  await computeEmbeddings(node, rc, entry, [prompt], keepAliveMs, undefined, (batch) =>
    rc.replyJson(200, { embedding: batch.vectors[0] }),
  );
}
