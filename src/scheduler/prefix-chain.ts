import { createHash } from 'node:crypto';

/**
 * A prompt as a chain of prefixes, so two requests that share a beginning share the first links. A chat is
 * cut after each message (a follow-up turn repeats every earlier message); a raw prompt is cut into fixed-size
 * blocks (documents, few-shot examples and system prompts repeat at the start). Each link's hash covers the
 * model and everything before it, and carries the estimated prompt tokens up to its end.
 */
export interface PrefixLink {
  hash: string;
  /** Estimated prompt tokens from the start of the prompt to the end of this link. */
  tokens: number;
  /** Set on the link that names the conversation: the first user message (with the system prompt before it). */
  conversation?: true;
}

/** Characters per block of a raw prompt: small enough to match most of a shared document, few links per request. */
export const PROMPT_BLOCK_CHARS = 1024;
const SYSTEM_PART = 'system\u0000';
/** Links kept per request at most (the later ones of a very long chat are dropped: its start matters most). */
export const MAX_LINKS = 64;

function link(previous: string, part: string): string {
  return createHash('sha256').update(previous).update('\u0001').update(part).digest('base64url').slice(0, 16);
}

/**
 * The chain of `parts` (messages, or prompt blocks) for `model`; `tokensOf` estimates a part's prompt tokens. The
 * link of the first part after a system prompt names the conversation: many conversations share a system prompt,
 * but each turn of one repeats its first message.
 */
export function prefixChain(model: string, parts: readonly string[], tokensOf: (text: string) => number): PrefixLink[] {
  const chain: PrefixLink[] = [];
  let hash = link('', model);
  let tokens = 0;
  const named = Math.min(parts.length > 1 && parts[0].startsWith(SYSTEM_PART) ? 1 : 0, MAX_LINKS - 1);
  parts.slice(0, MAX_LINKS).forEach((part, i) => {
    hash = link(hash, part);
    tokens += Math.max(0, tokensOf(part));
    chain.push(i === named ? { hash, tokens, conversation: true } : { hash, tokens });
  });
  return chain;
}

/** The hash naming the chain's conversation (see prefixChain); undefined for an empty chain. */
export function conversationOf(chain: readonly PrefixLink[]): string | undefined {
  return (chain.find((l) => l.conversation) ?? chain[0])?.hash;
}

/** The parts of a chat: one per message, its role and content. */
export function messageParts(messages: readonly { role: string; content?: unknown }[]): string[] {
  return messages.map((m) => `${m.role}\u0000${typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? '')}`);
}

/** The parts of a raw prompt: the system prompt, if any, then the prompt in blocks of PROMPT_BLOCK_CHARS. */
export function promptParts(prompt: string, system?: string): string[] {
  const parts = system ? [`${SYSTEM_PART}${system}`] : [];
  for (let i = 0; i < prompt.length; i += PROMPT_BLOCK_CHARS) parts.push(prompt.slice(i, i + PROMPT_BLOCK_CHARS));
  return parts;
}

/**
 * Prompt tokens a node probably still holds for this chain: the longest link it served that is still warm.
 * `lastServed[i]` is the node's serving sequence number when it last served link i (null: never, or forgotten);
 * `nodeSeq` is its sequence number now (one per request it served for this model). A link is warm while fewer
 * than `capacity` other requests landed on the node since (its slots plus its prompt-cache entries, kept LRU).
 */
export function expectedCachedTokens(chain: readonly PrefixLink[], lastServed: readonly (number | null)[], nodeSeq: number, capacity: number): number {
  for (let i = Math.min(chain.length, lastServed.length) - 1; i >= 0; i--) {
    const seen = lastServed[i];
    if (seen !== null && nodeSeq - seen < capacity) return chain[i].tokens;
  }
  return 0;
}
