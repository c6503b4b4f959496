import { ArgumentsHost, Catch, HttpException, type ExceptionFilter } from '@nestjs/common';
import type { Request, Response } from 'express';
import { toClientError, type ClientError } from '../../common/client-error';
import type { Logger } from '../../common/logger';
import { wasRecorded } from '../../inference/request-events';

/**
 * Errors OpenAI's own API has an answer for, in its words (`type`, `code`, `param`), so SDKs and tools that
 * branch on them (an invalid key, a rate limit by requests or by tokens) behave as with OpenAI. Every other
 * error carries Herd's code.
 */
const OPENAI_ERRORS: Partial<Record<string, { type: string; code: string; param: string | null }>> = {
  HERD_INVALID_API_KEY: { type: 'invalid_request_error', code: 'invalid_api_key', param: null },
  HERD_MODEL_NOT_ALLOWED: { type: 'invalid_request_error', code: 'model_not_allowed', param: 'model' },
  HERD_RATE_LIMITED: { type: 'requests', code: 'rate_limit_exceeded', param: null },
  HERD_TOKEN_LIMITED: { type: 'tokens', code: 'rate_limit_exceeded', param: null },
};

function openAiError(err: ClientError): { message: string; type: string; param: string | null; code: string } {
  const known = OPENAI_ERRORS[err.code];
  if (known) return { message: err.message, type: known.type, param: known.param, code: known.code };
  return { message: err.message, type: err.status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: err.code };
}

/** Writes an error in the shape of the API the client called: OpenAI's under /v1, Ollama's elsewhere. */
export function writeError(req: Request, res: Response, err: ClientError): void {
  const openai = req.path.startsWith('/v1/');
  if (res.headersSent) {
    // The status line is gone: the error becomes the last line of the stream, never a silent cut.
    if (!res.writableEnded) {
      res.end(openai ? `data: ${JSON.stringify({ error: { message: err.message, type: 'server_error', code: err.code } })}\n\n` : `${JSON.stringify({ error: err.message })}\n`);
    }
    return;
  }
  if (err.retryAfter !== undefined) res.setHeader('Retry-After', String(err.retryAfter));
  if (err.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="herd"');
  res.setHeader('X-Herd-Error-Code', err.code);
  res.status(err.status).json(openai ? { error: openAiError(err) } : { error: err.message });
}

@Catch()
export class HerdExceptionFilter implements ExceptionFilter {
  constructor(
    private readonly log: Logger,
    /** Told of errors that ended a request before InferenceService recorded it (validation, say). */
    private readonly onUnrecorded: (req: Request, err: ClientError) => void = () => undefined,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    if (isHealthReport(exception)) {
      // Terminus reports an unhealthy check as an exception carrying the full report: keep it.
      res.status(exception.getStatus()).json(exception.getResponse());
      return;
    }
    const err = toClientError(exception);
    if (err.code === 'HERD_INTERNAL') this.log.error('request failed', { path: req.path, error: (exception as Error)?.stack ?? String(exception) });
    else if (err.status >= 500 && err.status !== 503) this.log.warn('request failed', { path: req.path, status: err.status, code: err.code, error: err.message });
    if (!wasRecorded(exception)) this.onUnrecorded(req, err);
    writeError(req, res, err);
  }
}

function isHealthReport(err: unknown): err is HttpException {
  if (!(err instanceof HttpException)) return false;
  const body = err.getResponse();
  return typeof body === 'object' && body !== null && 'details' in body && 'status' in body;
}
