import type { RouteHandler } from './node-services';
import { handleChat, handleEmbed, handleEmbeddings, handleGenerate } from './routes-inference';
import {
  handleCopy,
  handleCreate,
  handleDelete,
  handleHeadBlob,
  handlePostBlob,
  handlePs,
  handlePull,
  handlePush,
  handleRoot,
  handleShow,
  handleTags,
  handleVersion,
} from './routes-models';
import {
  handleChatCompletions,
  handleCompletions,
  handleListModels,
  handleOpenAIEmbeddings,
  handleRetrieveModel,
} from './routes-openai';

/** Methods of one path, as Ollama registers them (HEAD only where Ollama has it). */
type MethodTable = Partial<Record<string, RouteHandler>>;

const EXACT: Record<string, MethodTable> = {
  '/': { GET: handleRoot, HEAD: handleRoot },
  '/api/version': { GET: handleVersion, HEAD: handleVersion },
  '/api/tags': { GET: handleTags, HEAD: handleTags },
  '/api/ps': { GET: handlePs },
  '/api/show': { POST: handleShow },
  '/api/generate': { POST: handleGenerate },
  '/api/chat': { POST: handleChat },
  '/api/embed': { POST: handleEmbed },
  '/api/embeddings': { POST: handleEmbeddings },
  '/api/pull': { POST: handlePull },
  '/api/push': { POST: handlePush },
  '/api/create': { POST: handleCreate },
  '/api/copy': { POST: handleCopy },
  '/api/delete': { DELETE: handleDelete },
  '/v1/chat/completions': { POST: handleChatCompletions },
  '/v1/completions': { POST: handleCompletions },
  '/v1/embeddings': { POST: handleOpenAIEmbeddings },
  '/v1/models': { GET: handleListModels },
};

const PREFIXED: Array<{ prefix: string; route: string; methods: MethodTable }> = [
  { prefix: '/api/blobs/', route: '/api/blobs/:digest', methods: { HEAD: handleHeadBlob, POST: handlePostBlob } },
  { prefix: '/v1/models/', route: '/v1/models/:model', methods: { GET: handleRetrieveModel } },
];

export interface RouteMatch {
  /** Route name for the log. */
  route: string;
  handler?: RouteHandler;
  /** 404 (no such path) or 405 (path exists, method does not) when there is no handler. */
  status?: 404 | 405;
  openai: boolean;
  readsBody: boolean;
  /** Inference routes: their startedAt is when they get a slot. */
  usesSlot: boolean;
}

const SLOT_ROUTES = new Set(['/api/generate', '/api/chat', '/api/embed', '/api/embeddings', '/v1/chat/completions', '/v1/completions', '/v1/embeddings']);

export function matchRoute(method: string, path: string): RouteMatch {
  let route = path;
  let methods: MethodTable | undefined = EXACT[path];
  if (!methods) {
    const prefixed = PREFIXED.find((p) => path.startsWith(p.prefix) && path.length > p.prefix.length);
    if (prefixed) {
      route = prefixed.route;
      methods = prefixed.methods;
    }
  }
  const openai = path.startsWith('/v1/');
  const readsBody = method === 'POST' || method === 'DELETE' || method === 'PUT' || method === 'PATCH';
  const usesSlot = SLOT_ROUTES.has(route);
  if (!methods) return { route, status: 404, openai, readsBody, usesSlot };
  const handler = methods[method];
  if (!handler) return { route, status: 405, openai, readsBody, usesSlot };
  return { route, handler, openai, readsBody, usesSlot };
}
