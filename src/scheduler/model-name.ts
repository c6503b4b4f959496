/**
 * Model names as Ollama treats them: `[host/][namespace/]model[:tag]`, compared case-insensitively (Ollama's
 * Name.EqualFold), with the defaults filled in: a missing tag is `latest`, a missing namespace `library`, a
 * missing host `registry.ollama.ai`. So `llama3`, `Llama3:latest` and `registry.ollama.ai/library/llama3:latest`
 * are one model, and `hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M` is the same model in any case.
 *
 * Herd compares names only through normalizeModelName / sameModel / findModel, and keys everything it keeps
 * per model (queue tickets, learned rates, residency lookups) by normalizeModelName.
 */

const DEFAULT_HOST = 'registry.ollama.ai';
const DEFAULT_NAMESPACE = 'library';

/** The name with its tag (`latest` when it has none), trimmed, case kept: how Herd names a model to a client. */
export function completeModelName(name: string): string {
  const trimmed = name.trim();
  if (trimmed === '') return trimmed;
  // A tag lives in the last path segment: `host:5000/ns/model` has a port, not a tag.
  const lastSegment = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  return lastSegment.includes(':') ? trimmed : `${trimmed}:latest`;
}

/** The key a model name is compared and stored by: complete, lower case, default registry and namespace left out. */
export function normalizeModelName(name: string): string {
  const full = completeModelName(name).toLowerCase();
  if (!full.includes('/')) return full;
  const parts = full.split('/');
  if (parts.length === 3 && parts[0] === DEFAULT_HOST) parts.shift();
  if (parts.length === 2 && parts[0] === DEFAULT_NAMESPACE) parts.shift();
  return parts.join('/');
}

/** Whether two names are the same model to Ollama. */
export function sameModel(a: string, b: string): boolean {
  return normalizeModelName(a) === normalizeModelName(b);
}

/** The entry of `list` that is `model`, whatever spelling either side uses. */
export function findModel<T extends { name: string }>(list: readonly T[], model: string): T | undefined {
  const wanted = normalizeModelName(model);
  return list.find((m) => normalizeModelName(m.name) === wanted);
}

/**
 * The name to send a node that lists the model as `listed`, for a client that asked for `requested`; undefined
 * when the client's own spelling already is the node's (up to the `:latest` every Ollama fills in), so the
 * client's body goes out untouched. A node that stores names case-sensitively finds its own spelling only.
 */
export function spellingForNode(requested: string, listed: string | undefined): string | undefined {
  if (listed === undefined || completeModelName(requested) === completeModelName(listed)) return undefined;
  return listed;
}
