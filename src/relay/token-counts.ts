/**
 * Tokens a node reports having served (and, from newer Ollama, how many prompt tokens came from its cache), from the final chunk of a native answer (`prompt_eval_count`,
 * `eval_count`) or the `usage` of an OpenAI-style one (`prompt_tokens`, `completion_tokens`). A count the answer
 * does not carry (an SSE stream without usage, an embedding's output) is undefined, not zero.
 */
export function tokenCounts(final: unknown): { prompt?: number; output?: number; cached?: number } {
  if (typeof final !== 'object' || final === null) return {};
  const f = final as Record<string, unknown>;
  const usage = objectOrEmpty(f.usage);
  return {
    prompt: count(f.prompt_eval_count) ?? count(usage.prompt_tokens),
    output: count(f.eval_count) ?? count(usage.completion_tokens),
    cached: count(f.prompt_eval_cached_count) ?? count(objectOrEmpty(usage.prompt_tokens_details).cached_tokens),
  };
}

function objectOrEmpty(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}
