/** Output length assumed for a model nothing is known about yet. */
export const DEFAULT_OUTPUT_TOKENS = 256;
/** No answer is longer than the largest context windows: a bigger num_predict is no more informative. */
export const MAX_EXPECTED_OUTPUT_TOKENS = 131_072;
export const CHARS_PER_TOKEN = 4;
export const PROMPT_CORRECTION_ALPHA = 0.1;
/** Below this many estimated tokens the fixed template overhead dominates the ratio: not learned from. */
export const MIN_TOKENS_TO_LEARN_CORRECTION = 16;
const MIN_CORRECTION = 0.25;
const MAX_CORRECTION = 4;

/** Cheap prompt size: characters / 4, times the correction learned from what nodes report. */
export function estimatePromptTokens(text: string, correction = 1): number {
  return Math.round(Math.ceil(text.length / CHARS_PER_TOKEN) * correction);
}

/**
 * Moving average of reported prompt_eval_count / estimate. `estimated` must be the uncorrected
 * estimate (estimatePromptTokens(text) with no correction), otherwise the factor compounds.
 * Small prompts, and reports of 0 (a fully cached prompt), carry no information and are skipped.
 */
export function learnPromptCorrection(prev: number | undefined, estimated: number, reported: number, alpha = PROMPT_CORRECTION_ALPHA): number {
  const base = prev ?? 1;
  if (!(estimated >= MIN_TOKENS_TO_LEARN_CORRECTION) || !(reported > 0)) return base;
  const ratio = Math.min(MAX_CORRECTION, Math.max(MIN_CORRECTION, reported / estimated));
  return prev === undefined ? ratio : prev + alpha * (ratio - prev);
}

/**
 * Expected output tokens. num_predict is a cap, not a length: the model usually stops earlier, so
 * when the model's recent mean is known the expectation is min(num_predict, mean). min is concave,
 * so E[min(L, cap)] <= min(E[L], cap): a slight overestimate, which errs on the safe side.
 * Without a recent mean the cap is the only information there is, and is used as is.
 * num_predict <= 0 (Ollama's -1 "no limit", -2 "fill the context") counts as not set.
 */
export function expectedOutputTokens(numPredict: number | undefined, recentMean: number | undefined): number {
  const cap = numPredict !== undefined && Number.isFinite(numPredict) && numPredict > 0 ? numPredict : undefined;
  const mean = recentMean !== undefined && Number.isFinite(recentMean) && recentMean > 0 ? recentMean : undefined;
  const expected = cap !== undefined && mean !== undefined ? Math.min(cap, mean) : (cap ?? mean ?? DEFAULT_OUTPUT_TOKENS);
  return Math.max(1, Math.min(MAX_EXPECTED_OUTPUT_TOKENS, Math.round(expected)));
}
