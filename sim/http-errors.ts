import type { SimOutcome } from './types';

/** An answer with a status and an error message; routes throw it, the node writes it in the route's error style. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly outcome: SimOutcome,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Ollama's exact wording, two spaces included. */
export const BUSY_MESSAGE = 'server busy, please try again.  maximum pending requests exceeded';

export function busyError(): HttpError {
  return new HttpError(503, BUSY_MESSAGE, 'busy');
}

export function modelRequiredError(): HttpError {
  return new HttpError(400, 'model is required', 'bad_request');
}

export function badRequest(message: string): HttpError {
  return new HttpError(400, message, 'bad_request');
}

/** Inference routes (scheduler): `model "NAME" not found, try pulling it first`. */
export function modelNotFoundError(name: string): HttpError {
  return new HttpError(404, `model "${name}" not found, try pulling it first`, 'not_found');
}

/** show / delete / push wording. */
export function modelMissingError(name: string): HttpError {
  return new HttpError(404, `model '${name}' not found`, 'not_found');
}

/** OpenAI-style error type for a status, as Ollama's compatibility layer maps it. */
export function openAIErrorType(status: number): string {
  if (status === 400) return 'invalid_request_error';
  if (status === 404) return 'not_found_error';
  return 'api_error';
}

export function nativeErrorBody(message: string): string {
  return JSON.stringify({ error: message });
}

export function openAIErrorBody(status: number, message: string): string {
  return JSON.stringify({ error: { message, type: openAIErrorType(status), param: null, code: null } });
}
