import { hash32 } from './hash';
import { CHAT_TOKENS_PER_MESSAGE, PUNCTUATION } from './token-text';

/**
 * Token id sequences of prompts, for the prompt cache (prompt-cache.ts). Deterministic: the same text always gives
 * the same ids, and a text that extends another (at a word boundary) gives ids that extend the other's.
 * The lengths are exactly the counts of token-text.ts (countTokens, countChatTokens), so prompt_eval_count is
 * unchanged by the cache:
 *   - a word (a run without whitespace) is worth 1.3 tokens plus 0.5 per punctuation mark in it; after the i-th word
 *     of a text the running total is round(words * 1.3 + marks * 0.5), and the word emits the increase (>= 1 token),
 *     each token id a hash of the word and the token's index in it. The total is countTokens(text).
 *   - a chat message is a role marker, its content's tokens, and 3 end-of-turn tokens (CHAT_TOKENS_PER_MESSAGE = 4).
 *   - a raw prompt (/api/generate, /v1/completions) is the system text's tokens then the prompt's: no template.
 */

/** Running counts of the word tokenizer, so that a text can be continued (a raw prompt followed by its answer). */
export interface TokenizerState {
  words: number;
  marks: number;
  emitted: number;
}

/** Token ids and how the answer to them is tokenized, so that prompt + answer is a prefix of the next turn's prompt. */
export interface PromptTokens {
  readonly ids: readonly number[];
  /** The tokens the answer `text` adds to the slot, as the client's next prompt will carry them. */
  answerIds(text: string): number[];
}

/** Ids below this are template tokens; text tokens are spread over a 128k vocabulary above it. */
const SPECIAL_IDS = 256;
const TEXT_VOCABULARY = 128_000;
const BOS = 1;
const END_OF_TURN = [2, 3, 4] as const;
const ROLE_BASE = 16;
const ROLE_RANGE = SPECIAL_IDS - ROLE_BASE;

if (END_OF_TURN.length + 1 !== CHAT_TOKENS_PER_MESSAGE) throw new Error('chat template tokens out of step with CHAT_TOKENS_PER_MESSAGE');

export function newTokenizerState(): TokenizerState {
  return { words: 0, marks: 0, emitted: 0 };
}

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\n' || ch === '\t' || ch === '\r';
}

function wordTokenId(word: string, index: number): number {
  return SPECIAL_IDS + (hash32(word, index + 1) % TEXT_VOCABULARY);
}

/** The marker token opening a chat message of this role. */
export function roleTokenId(role: string): number {
  return ROLE_BASE + (hash32(`role:${role}`) % ROLE_RANGE);
}

/** Appends the ids of `text` to `out`, continuing `state` (updated in place). The words split like countTokens. */
export function appendTextTokens(text: string, out: number[], state: TokenizerState = newTokenizerState()): TokenizerState {
  let i = 0;
  while (i < text.length) {
    if (isSpace(text[i])) {
      i++;
      continue;
    }
    const start = i;
    let marks = 0;
    while (i < text.length && !isSpace(text[i])) {
      if (PUNCTUATION.has(text[i])) marks++;
      i++;
    }
    const word = text.slice(start, i);
    state.words++;
    state.marks += marks;
    // the same expression as countTokens, so the totals agree to the last rounding
    const total = Math.round(state.words * 1.3 + state.marks * 0.5);
    for (let j = 0; state.emitted < total; j++, state.emitted++) out.push(wordTokenId(word, j));
  }
  return state;
}

export function textTokenIds(text: string): number[] {
  const out: number[] = [];
  appendTextTokens(text, out);
  return out;
}

function appendMessage(role: string, content: string, out: number[]): void {
  out.push(roleTokenId(role));
  appendTextTokens(content, out);
  out.push(...END_OF_TURN);
}

/**
 * A chat prompt: every message as role marker + content + end of turn; length countChatTokens(contents).
 * The answer is stored as the assistant's role marker (the template's generation prompt) and the answer's words,
 * which is how the next turn's assistant message begins.
 */
export function chatPromptTokens(roles: readonly string[], contents: readonly string[]): PromptTokens {
  const ids: number[] = [];
  for (let i = 0; i < contents.length; i++) appendMessage(roles[i] ?? '', contents[i], ids);
  if (ids.length === 0) ids.push(BOS);
  return {
    ids,
    answerIds: (text) => {
      const out = [roleTokenId('assistant')];
      appendTextTokens(text, out);
      return out;
    },
  };
}

/**
 * A raw prompt: the system text's tokens then the prompt's (counted apart, like the simulator always has), at least
 * one token. The answer continues the prompt's words, as if the next prompt were `prompt + " " + answer + ...`.
 */
export function rawPromptTokens(system: string, prompt: string): PromptTokens {
  const ids: number[] = [];
  appendTextTokens(system, ids);
  const state = appendTextTokens(prompt, ids);
  if (ids.length === 0) ids.push(BOS);
  return {
    ids,
    answerIds: (text) => {
      const out: number[] = [];
      appendTextTokens(text, out, { ...state });
      return out;
    },
  };
}
