import { INFERENCE_ROUTES, type RouteSpec } from '../../admission/route-specs';
import { validateBody } from '../../admission/validate-body';
import { HerdError } from '../../common/herd-error';
import { ClusterChatDto } from './seed.dto';

/**
 * Cluster LLM's chat body as Ollama's /api/chat: `{model, prompt}` becomes one user message; with `messages`
 * too, the prompt is the newest user turn after them. Other fields (options, keep_alive, format...) go along.
 */
export function clusterChatSpec(body: unknown, stream: boolean): RouteSpec {
  const dto = validateBody(ClusterChatDto, body);
  if (dto.prompt === undefined && dto.messages === undefined) throw HerdError.badRequest('prompt or messages is required');
  const { prompt: _prompt, ...rest } = body as Record<string, unknown>;
  const messages = [...(dto.messages ?? []), ...(dto.prompt === undefined ? [] : [{ role: 'user', content: dto.prompt }])];
  const chat = { ...rest, messages, stream };
  return { ...INFERENCE_ROUTES['/api/chat'](chat), body: chat };
}
