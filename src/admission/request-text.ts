import { CHARS_PER_TOKEN } from '../scheduler/estimate-request';

/** `num_predict` from Ollama options when it is a usable cap (negative means unlimited in Ollama). */
export function numPredictOf(options: Record<string, unknown> | undefined): number | undefined {
  const n = options?.num_predict;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** The text of an `input`/`prompt` list, for the estimate; a token id counts as one token's worth of text. */
export function inputText(input: string | string[] | number[] | number[][]): string {
  if (typeof input === 'string') return input;
  const tokens = (input as unknown[]).flat().filter((t) => typeof t === 'number').length;
  const texts = (input as unknown[]).filter((t): t is string => typeof t === 'string');
  return texts.join('\n') + ' '.repeat(tokens * CHARS_PER_TOKEN);
}

/** Concatenated text content of chat messages, for the estimate. */
export function messagesText(messages: { content?: unknown }[] | undefined): string {
  return (messages ?? []).map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n');
}
