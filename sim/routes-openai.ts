import { SSE_TYPE } from './chunk-writer';
import { type CompletionFormat, runCompletion } from './completion-runner';
import { hash32 } from './hash';
import { badRequest, modelNotFoundError, openAIErrorBody } from './http-errors';
import type { GenerationResult, GenerationSpec } from './inference-engine';
import { type JsonObject, optArray, optBool, optNumber, optObject, optString, parseJsonObject } from './json-body';
import { DEFAULT_KEEP_ALIVE_MS } from './keep-alive';
import type { ModelEntry } from './model-catalog';
import { modelNamespace } from './model-names';
import { type NodeServices, requireModel } from './node-services';
import { resolveOutputLength } from './output-length';
import { chatPromptTokens, rawPromptTokens } from './prompt-tokens';
import type { RequestContext } from './request-context';
import { chatSeedKey, computeEmbeddings } from './routes-inference';

/** OpenAI-compatible routes under /v1, shaped like Ollama's compatibility layer answers them. */

function sse(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

const SSE_DONE = 'data: [DONE]\n\n';

/**
 * prompt_tokens is prompt_eval_count, every prompt token whether cached or not (openai/openai.go `ToUsage`:
 * PromptTokens = Metrics.PromptEvalCount). With `reportCachedTokens` the cached part is added as
 * prompt_tokens_details.cached_tokens, OpenAI's field (ollama PR #17943).
 */
function usage(result: GenerationResult, reportCached: boolean): Record<string, unknown> {
  const u: Record<string, unknown> = {
    prompt_tokens: result.promptTokens,
    completion_tokens: result.evalCount,
    total_tokens: result.promptTokens + result.evalCount,
  };
  if (reportCached) u.prompt_tokens_details = { cached_tokens: result.cachedTokens };
  return u;
}

function completionId(prefix: string): string {
  return `${prefix}-${Math.floor(Math.random() * 999)}`;
}

function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

function chatCompletionFormat(model: string, includeUsage: boolean, reportCached: boolean): CompletionFormat {
  const id = completionId('chatcmpl');
  const created = unixNow();
  const head = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_ollama' };
  const prefix =
    `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},` +
    `"system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":`;
  return {
    contentType: SSE_TYPE,
    tokenChunk: (token) => `${prefix}${JSON.stringify(token)}},"finish_reason":null}]}\n\n`,
    finalChunks: (result) => {
      const chunks = [
        sse({ ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: result.doneReason }] }),
      ];
      if (includeUsage) chunks.push(sse({ ...head, choices: [], usage: usage(result, reportCached) }));
      chunks.push(SSE_DONE);
      return chunks;
    },
    errorChunk: (message) => `data: ${openAIErrorBody(500, message)}\n\n`,
    fullBody: (text, result) => ({
      id,
      object: 'chat.completion',
      created,
      model,
      system_fingerprint: 'fp_ollama',
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: result.doneReason }],
      usage: usage(result, reportCached),
    }),
  };
}

function textCompletionFormat(model: string, includeUsage: boolean, reportCached: boolean): CompletionFormat {
  const id = completionId('cmpl');
  const created = unixNow();
  const head = { id, object: 'text_completion', created, model, system_fingerprint: 'fp_ollama' };
  const prefix = `data: {"id":"${id}","object":"text_completion","created":${created},"choices":[{"text":`;
  const suffix = `,"index":0,"finish_reason":null}],"model":${JSON.stringify(model)},"system_fingerprint":"fp_ollama"}\n\n`;
  return {
    contentType: SSE_TYPE,
    tokenChunk: (token) => `${prefix}${JSON.stringify(token)}${suffix}`,
    finalChunks: (result) => {
      const chunks = [sse({ ...head, choices: [{ text: '', index: 0, finish_reason: result.doneReason }] })];
      if (includeUsage) chunks.push(sse({ ...head, choices: [], usage: usage(result, reportCached) }));
      chunks.push(SSE_DONE);
      return chunks;
    },
    errorChunk: (message) => `data: ${openAIErrorBody(500, message)}\n\n`,
    fullBody: (text, result) => ({
      ...head,
      choices: [{ text, index: 0, finish_reason: result.doneReason }],
      usage: usage(result, reportCached),
    }),
  };
}

/** OpenAI message content: a string or an array of parts of which the text parts count. */
function messageText(content: unknown): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let text = '';
    for (const part of content) {
      if (part === null || typeof part !== 'object') throw badRequest('invalid message format');
      const p = part as JsonObject;
      if (p.type === 'text') {
        if (typeof p.text !== 'string') throw badRequest('invalid message format');
        text += (text ? '\n' : '') + p.text;
      } else if (p.type !== 'image_url') {
        throw badRequest('invalid message format');
      }
    }
    return text;
  }
  throw badRequest(`invalid message content type: ${typeof content}`);
}

function includeUsageOf(body: JsonObject, struct: string): boolean {
  const options = optObject(body, 'stream_options', struct);
  return options?.include_usage === true;
}

/** Empty messages / prompt: Ollama loads the model and answers with finish_reason 'load'. */
async function answerLoad(node: NodeServices, rc: RequestContext, entry: ModelEntry, format: CompletionFormat): Promise<void> {
  const loadNs = await node.engine.loadOnly(rc, entry, DEFAULT_KEEP_ALIVE_MS);
  const result: GenerationResult = {
    loadNs,
    promptEvalNs: 0,
    evalNs: 0,
    evalCount: 0,
    promptTokens: 0,
    cachedTokens: 0,
    doneReason: 'stop',
  };
  const body = format.fullBody('', result, 0) as { choices: Array<{ finish_reason: string }> };
  body.choices[0].finish_reason = 'load';
  rc.replyJson(200, body);
}

export async function handleChatCompletions(node: NodeServices, rc: RequestContext): Promise<void> {
  const S = 'ChatCompletionRequest';
  const body = parseJsonObject(rc.body, 'openai.ChatCompletionRequest');
  const model = optString(body, 'model', S);
  const messages = optArray(body, 'messages', S, '[]openai.Message') ?? [];
  const stream = optBool(body, 'stream', S) ?? false;
  const maxTokens = optNumber(body, 'max_tokens', S);
  const includeUsage = includeUsageOf(body, S);
  const roles: string[] = [];
  const contents: string[] = [];
  for (const message of messages) {
    if (message === null || typeof message !== 'object' || Array.isArray(message)) throw badRequest('invalid message format');
    const m = message as JsonObject;
    roles.push(typeof m.role === 'string' ? m.role : '');
    contents.push(messageText(m.content));
  }
  const entry = requireModel(node, rc, model);
  const label = model ?? entry.name;
  if (entry.embeddingOnly) throw badRequest(`"${label}" does not support chat`);
  node.checkBusyFault();
  const format = chatCompletionFormat(label, includeUsage, node.options.reportCachedTokens);
  if (messages.length === 0) {
    await answerLoad(node, rc, entry, format);
    return;
  }
  const seedKey = chatSeedKey(entry.name, roles, contents);
  const out = resolveOutputLength(maxTokens, seedKey, node.options.maxOutputTokens);
  const spec: GenerationSpec = {
    entry,
    prompt: chatPromptTokens(roles, contents),
    outputTokens: out.tokens,
    doneReason: out.doneReason,
    tokenSeed: hash32(seedKey),
    keepAliveMs: DEFAULT_KEEP_ALIVE_MS,
  };
  await runCompletion(node.engine, rc, spec, format, stream);
}

export async function handleCompletions(node: NodeServices, rc: RequestContext): Promise<void> {
  const S = 'CompletionRequest';
  const body = parseJsonObject(rc.body, 'openai.CompletionRequest');
  const model = optString(body, 'model', S);
  const prompt = optString(body, 'prompt', S) ?? '';
  const stream = optBool(body, 'stream', S) ?? false;
  const maxTokens = optNumber(body, 'max_tokens', S);
  const includeUsage = includeUsageOf(body, S);
  const entry = requireModel(node, rc, model);
  const label = model ?? entry.name;
  if (entry.embeddingOnly) throw badRequest(`"${label}" does not support generate`);
  node.checkBusyFault();
  const format = textCompletionFormat(label, includeUsage, node.options.reportCachedTokens);
  if (prompt === '') {
    await answerLoad(node, rc, entry, format);
    return;
  }
  const seedKey = `${entry.name}\n\n${prompt}`;
  const out = resolveOutputLength(maxTokens, seedKey, node.options.maxOutputTokens);
  const spec: GenerationSpec = {
    entry,
    prompt: rawPromptTokens('', prompt),
    outputTokens: out.tokens,
    doneReason: out.doneReason,
    tokenSeed: hash32(seedKey),
    keepAliveMs: DEFAULT_KEEP_ALIVE_MS,
  };
  await runCompletion(node.engine, rc, spec, format, stream);
}

function floatsToBase64(vec: number[]): string {
  const buf = Buffer.alloc(vec.length * 4);
  vec.forEach((v, i) => buf.writeFloatLE(v, i * 4));
  return buf.toString('base64');
}

export async function handleOpenAIEmbeddings(node: NodeServices, rc: RequestContext): Promise<void> {
  const S = 'EmbedRequest';
  const body = parseJsonObject(rc.body, 'openai.EmbedRequest');
  const model = optString(body, 'model', S);
  const dimensions = optNumber(body, 'dimensions', S);
  const encoding = optString(body, 'encoding_format', S) ?? 'float';
  let inputs: string[];
  if (typeof body.input === 'string' && body.input !== '') inputs = [body.input];
  else if (Array.isArray(body.input) && body.input.length > 0 && body.input.every((v) => typeof v === 'string')) inputs = body.input;
  else throw badRequest('invalid input');
  const entry = requireModel(node, rc, model);
  const label = model ?? entry.name;
  node.checkBusyFault();
  await computeEmbeddings(node, rc, entry, inputs, DEFAULT_KEEP_ALIVE_MS, dimensions, (batch) =>
    rc.replyJson(200, {
      object: 'list',
      data: batch.vectors.map((embedding, index) => ({
        object: 'embedding',
        embedding: encoding.toLowerCase() === 'base64' ? floatsToBase64(embedding) : embedding,
        index,
      })),
      model: label,
      usage: { prompt_tokens: batch.promptTokens, total_tokens: batch.promptTokens },
    }),
  );
}

function modelObject(entry: ModelEntry): Record<string, unknown> {
  return {
    id: entry.name,
    object: 'model',
    created: Math.floor(entry.modifiedAt.getTime() / 1000),
    owned_by: modelNamespace(entry.name),
  };
}

export async function handleListModels(node: NodeServices, rc: RequestContext): Promise<void> {
  const models = node.store.list().sort((a, b) => b.modifiedAt.getTime() - a.modifiedAt.getTime());
  rc.replyJson(200, { object: 'list', data: models.map(modelObject) });
}

export async function handleRetrieveModel(node: NodeServices, rc: RequestContext): Promise<void> {
  let name: string;
  try {
    name = decodeURIComponent(rc.path.slice('/v1/models/'.length));
  } catch {
    throw badRequest('invalid model name');
  }
  const entry = node.store.find(name);
  rc.entry.model = entry?.name ?? name;
  if (!entry) throw modelNotFoundError(name);
  rc.replyJson(200, { ...modelObject(entry), id: name });
}
