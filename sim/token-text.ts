import { seededRandom } from './hash';

/**
 * Prompt token counting and output text. Both are deterministic and cheap; the count is deliberately
 * not chars/4 so that a gateway's cheap estimate is close but never exact.
 */

/** Marks worth half a token each (prompt-tokens.ts splits words the same way). */
export const PUNCTUATION: ReadonlySet<string> = new Set('.,;:!?()[]{}"\'`-_/\\*#=+<>|@&%$'.split(''));

/** words * 1.3 plus half a token per punctuation mark, rounded; 0 for text without words. */
export function countTokens(text: string): number {
  let words = 0;
  let marks = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === ' ' || ch === '\n' || ch === '\t' || ch === '\r') {
      inWord = false;
      continue;
    }
    if (!inWord) {
      words++;
      inWord = true;
    }
    if (PUNCTUATION.has(ch)) marks++;
  }
  if (words === 0) return 0;
  return Math.max(1, Math.round(words * 1.3 + marks * 0.5));
}

/** Chat templates add a few tokens around every message. */
export const CHAT_TOKENS_PER_MESSAGE = 4;

export function countChatTokens(contents: readonly string[]): number {
  let total = 0;
  for (const content of contents) total += countTokens(content) + CHAT_TOKENS_PER_MESSAGE;
  return Math.max(1, total);
}

/** Words of the simulated model. Plain ASCII without quotes or backslashes, so they never need JSON escaping. */
export const VOCABULARY: readonly string[] = [
  'the', 'a', 'of', 'and', 'to', 'in', 'is', 'it', 'that', 'for', 'on', 'with', 'as', 'this', 'by', 'be', 'are',
  'from', 'or', 'at', 'can', 'an', 'which', 'more', 'when', 'each', 'will', 'other', 'into', 'than', 'also',
  'light', 'sky', 'blue', 'water', 'model', 'answer', 'question', 'system', 'data', 'time', 'energy', 'process',
  'result', 'value', 'example', 'number', 'part', 'way', 'world', 'change', 'point', 'reason', 'idea', 'form',
  'small', 'large', 'simple', 'common', 'different', 'important', 'specific', 'general', 'possible', 'useful',
  'scattering', 'molecules', 'atmosphere', 'wavelength', 'particles', 'surface', 'pattern', 'structure',
  'function', 'network', 'request', 'server', 'memory', 'context', 'token', 'layer', 'signal', 'balance',
  'because', 'however', 'therefore', 'usually', 'often', 'sometimes', 'typically', 'mostly', 'roughly',
  'explains', 'shows', 'means', 'depends', 'makes', 'gives', 'takes', 'helps', 'allows', 'uses', 'creates',
  'we', 'you', 'they', 'one', 'some', 'many', 'most', 'these', 'those', 'there', 'here', 'how', 'why', 'what',
  'first', 'second', 'next', 'then', 'finally', 'overall', 'in short', 'for example', 'in practice',
];

const SENTENCE_END_PROBABILITY = 0.09;
const COMMA_PROBABILITY = 0.05;

/** Yields one token (a word with its leading space, or a punctuation mark) per call, deterministically from a seed. */
export class TokenSource {
  private readonly rnd: () => number;
  private atSentenceStart = true;
  private first = true;

  constructor(seed: number) {
    this.rnd = seededRandom(seed);
  }

  next(): string {
    if (!this.atSentenceStart && !this.first) {
      const roll = this.rnd();
      if (roll < SENTENCE_END_PROBABILITY) {
        this.atSentenceStart = true;
        return '.';
      }
      if (roll < SENTENCE_END_PROBABILITY + COMMA_PROBABILITY) return ',';
    }
    let word = VOCABULARY[Math.floor(this.rnd() * VOCABULARY.length)];
    if (this.atSentenceStart) {
      word = word.charAt(0).toUpperCase() + word.slice(1);
      this.atSentenceStart = false;
    }
    if (this.first) {
      this.first = false;
      return word;
    }
    return ` ${word}`;
  }

  take(count: number): string[] {
    const out: string[] = new Array<string>(count);
    for (let i = 0; i < count; i++) out[i] = this.next();
    return out;
  }
}

/** The `context` array of /api/generate: plausible token ids, deterministic from the seed. */
export function contextIds(seed: number, length: number): number[] {
  const rnd = seededRandom(seed ^ 0x5bd1e995);
  const ids = new Array<number>(length);
  for (let i = 0; i < length; i++) ids[i] = 1 + Math.floor(rnd() * 128_000);
  return ids;
}
