import { hash32, normalDraw, seededRandom } from './hash';

/** Median of drawn output lengths, in tokens. */
export const MEDIAN_OUTPUT_TOKENS = 100;
/** Spread of the log-normal: sigma 0.9 gives p10 ~ 32, p90 ~ 317, p99 ~ 810 tokens. */
export const OUTPUT_LENGTH_SIGMA = 0.9;

/**
 * A right-skewed (log-normal) output length drawn deterministically from a key (model + prompt), at least 1.
 * Not capped here; see resolveOutputLength.
 */
export function drawOutputTokens(key: string): number {
  const rnd = seededRandom(hash32(key, 0x07e5));
  const z = normalDraw(rnd);
  return Math.max(1, Math.round(Math.exp(Math.log(MEDIAN_OUTPUT_TOKENS) + OUTPUT_LENGTH_SIGMA * z)));
}

export interface OutputLength {
  tokens: number;
  doneReason: 'stop' | 'length';
}

/**
 * num_predict (or max_tokens) when the client gave a non-negative one: exactly that many tokens, done_reason 'length'.
 * Otherwise (absent, or Ollama's -1 / -2 for "unlimited") the drawn length, capped at maxOutputTokens ('length' when capped).
 */
export function resolveOutputLength(numPredict: number | undefined, key: string, maxOutputTokens: number): OutputLength {
  if (numPredict !== undefined && Number.isFinite(numPredict) && numPredict >= 0) {
    return { tokens: Math.floor(numPredict), doneReason: 'length' };
  }
  const drawn = drawOutputTokens(key);
  if (drawn >= maxOutputTokens) return { tokens: maxOutputTokens, doneReason: 'length' };
  return { tokens: drawn, doneReason: 'stop' };
}
