/**
 * Ollama treats `llama3` as `llama3:latest` and compares names case-insensitively;
 * compare model names only after passing them through here.
 */
export function normalizeModelName(name: string): string {
  const trimmed = name.trim().toLowerCase();
  if (trimmed === '') return trimmed;
  // A tag lives in the last path segment: `host:5000/ns/model` has a port, not a tag.
  const lastSegment = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  return lastSegment.includes(':') ? trimmed : `${trimmed}:latest`;
}
