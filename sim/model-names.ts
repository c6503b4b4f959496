/**
 * Ollama model names are `[host/][namespace/]model[:tag]`; a missing tag means `latest`.
 * A colon before the last slash belongs to a host:port, not to the tag.
 */
export function normaliseModelName(name: string): string {
  const trimmed = name.trim();
  if (trimmed === '') return '';
  const lastSlash = trimmed.lastIndexOf('/');
  const tail = trimmed.slice(lastSlash + 1);
  return tail.includes(':') ? trimmed : `${trimmed}:latest`;
}

/** Key for lookups: Ollama matches names case-insensitively. */
export function modelKey(name: string): string {
  return normaliseModelName(name).toLowerCase();
}

/** The part before the tag and after any namespace: 'library/qwen2.5:7b' -> 'qwen2.5'. */
export function baseModelName(name: string): string {
  const normalised = normaliseModelName(name);
  const afterSlash = normalised.slice(normalised.lastIndexOf('/') + 1);
  return afterSlash.slice(0, afterSlash.lastIndexOf(':'));
}

export function modelTag(name: string): string {
  const normalised = normaliseModelName(name);
  return normalised.slice(normalised.lastIndexOf(':') + 1);
}

/** Namespace as the OpenAI-compatible `owned_by` reports it: 'library' for official models. */
export function modelNamespace(name: string): string {
  const normalised = normaliseModelName(name);
  const parts = normalised.split('/');
  if (parts.length === 1) return 'library';
  return parts[parts.length - 2];
}
