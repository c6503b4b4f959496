import { messageParts, promptParts } from '../scheduler/prefix-chain';
import { HerdGenerateDto } from './herd-generate.dto';
import type { RequestSpec } from './inference-request';
import { ChatDto, EmbedDto, EmbeddingsDto, GenerateDto, OpenAiChatDto, OpenAiCompletionDto, OpenAiEmbeddingsDto } from './inference.dto';
import { inputText, messagesText, numPredictOf } from './request-text';
import { validateBody } from './validate-body';

/** How a route's answer streams: NDJSON for Ollama's routes, Server-Sent Events for OpenAI's. */
export type AnswerFormat = 'ndjson' | 'sse';

/** What an inference route read from its valid body, and how its answer streams. */
export interface RouteSpec extends RequestSpec {
  format: AnswerFormat;
}

/** Reads a body for one route: validates it (HerdError 400 otherwise) and says what the pipeline needs of it. */
export type SpecReader = (body: unknown) => RouteSpec;

/**
 * Every inference route Herd serves, by path: the controllers read their bodies with these, and so do batch lines
 * and async jobs, which carry a route and a body instead of an HTTP request. As in Ollama, `stream` absent means
 * true on /api/*; /ollama/generate and the OpenAI routes answer whole unless asked to stream.
 */
export const INFERENCE_ROUTES: Readonly<Record<string, SpecReader>> = Object.freeze({
  '/ollama/generate': (body) => {
    const dto = validateBody(HerdGenerateDto, body);
    return {
      path: '/api/generate',
      model: dto.model,
      bodyPriority: dto.priority,
      promptText: (dto.system ?? '') + dto.prompt,
      prefixParts: () => promptParts(dto.prompt, dto.system),
      numPredict: numPredictOf(dto.options),
      stream: dto.stream ?? false,
      format: 'ndjson',
    };
  },
  '/api/generate': (body) => {
    const dto = validateBody(GenerateDto, body);
    return {
      path: '/api/generate',
      model: dto.model,
      bodyPriority: dto.priority,
      promptText: (dto.system ?? '') + (dto.prompt ?? '') + (dto.suffix ?? ''),
      prefixParts: () => promptParts(dto.prompt ?? '', dto.system),
      numPredict: numPredictOf(dto.options),
      stream: dto.stream ?? true,
      format: 'ndjson',
    };
  },
  '/api/chat': (body) => {
    const dto = validateBody(ChatDto, body);
    return {
      path: '/api/chat',
      model: dto.model,
      bodyPriority: dto.priority,
      promptText: messagesText(dto.messages),
      prefixParts: () => messageParts(dto.messages ?? []),
      numPredict: numPredictOf(dto.options),
      stream: dto.stream ?? true,
      format: 'ndjson',
    };
  },
  '/api/embed': (body) => {
    const dto = validateBody(EmbedDto, body);
    return { path: '/api/embed', model: dto.model, bodyPriority: dto.priority, promptText: inputText(dto.input), numPredict: 0, stream: false, format: 'ndjson' };
  },
  '/api/embeddings': (body) => {
    const dto = validateBody(EmbeddingsDto, body);
    return { path: '/api/embeddings', model: dto.model, bodyPriority: dto.priority, promptText: dto.prompt ?? '', numPredict: 0, stream: false, format: 'ndjson' };
  },
  '/v1/chat/completions': (body) => {
    const dto = validateBody(OpenAiChatDto, body);
    return {
      path: '/v1/chat/completions',
      model: dto.model,
      bodyPriority: dto.priority,
      promptText: messagesText(dto.messages),
      prefixParts: () => messageParts(dto.messages),
      numPredict: dto.max_tokens,
      stream: dto.stream ?? false,
      format: 'sse',
    };
  },
  '/v1/completions': (body) => {
    const dto = validateBody(OpenAiCompletionDto, body);
    return {
      path: '/v1/completions',
      model: dto.model,
      bodyPriority: dto.priority,
      promptText: inputText(dto.prompt),
      prefixParts: () => (typeof dto.prompt === 'string' ? promptParts(dto.prompt) : []),
      numPredict: dto.max_tokens,
      stream: dto.stream ?? false,
      format: 'sse',
    };
  },
  '/v1/embeddings': (body) => {
    const dto = validateBody(OpenAiEmbeddingsDto, body);
    return { path: '/v1/embeddings', model: dto.model, bodyPriority: dto.priority, promptText: inputText(dto.input), numPredict: 0, stream: false, format: 'sse' };
  },
});

/** The spec reader of an inference route, or undefined for a path that is not one (own properties only). */
export function specReaderFor(route: string): SpecReader | undefined {
  return Object.prototype.hasOwnProperty.call(INFERENCE_ROUTES, route) ? INFERENCE_ROUTES[route] : undefined;
}
