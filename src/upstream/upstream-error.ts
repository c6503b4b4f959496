import { HerdError } from '../common/herd-error';

/** True for failures where another node may well succeed (nothing reached the client yet). */
export function isRetryable(err: unknown): boolean {
  return err instanceof HerdError && (err.status >= 500 || err.code === 'HERD_UPSTREAM_ERROR' || err.code === 'HERD_MODEL_GONE');
}

function codeOf(err: unknown): string {
  const e = err as { code?: string; cause?: { code?: string }; name?: string };
  return e?.code ?? e?.cause?.code ?? e?.name ?? '';
}

/** Maps a transport failure talking to a node to the error the client sees. */
export function classifyUpstreamError(err: unknown, node: string): HerdError {
  if (err instanceof HerdError) return err;
  const code = codeOf(err);
  const detail = (err as Error)?.message ?? String(err);
  switch (code) {
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new HerdError(503, 'HERD_UPSTREAM_UNREACHABLE', `herd: node ${node} is unreachable (${code})`);
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ETIMEDOUT':
      return new HerdError(504, 'HERD_UPSTREAM_TIMEOUT', `herd: node ${node} timed out (${code})`);
    default:
      return new HerdError(502, 'HERD_UPSTREAM_RESET', `herd: node ${node} failed: ${detail}`);
  }
}

/**
 * A node's 5xx answer (its body as text) as the error the client sees: Ollama's own words for a busy 503
 * ("server busy, please try again"), else the node, its status and what it said.
 */
export function answerError(node: string, status: number, text: string): HerdError {
  let message = text.slice(0, 300);
  try {
    message = (JSON.parse(text) as { error?: string }).error ?? message;
  } catch {
    // not JSON: keep the raw text
  }
  return new HerdError(status === 503 ? 503 : 502, 'HERD_UPSTREAM_ERROR', status === 503 ? message : `herd: node ${node} answered ${status}: ${message}`);
}
