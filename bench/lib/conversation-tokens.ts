import { commonPrefixLength } from '../../sim/prompt-cache';
import { chatPromptTokens } from '../../sim/prompt-tokens';
import { turnMessages, type Conversation } from './conversations';

/** One turn as the simulator sees it: every prompt token, and how many of them a cache could have served at best. */
export interface TurnTokens {
  promptTokens: number;
  /**
   * The prompt's common prefix with the previous turn's whole sequence (its prompt and the answer, which is what the
   * slot that served it holds), less the one token a node always evaluates. 0 for a first turn: its system prompt is
   * the conversation's own.
   */
  maxCachedTokens: number;
}

/**
 * The turns of a conversation that were answered, tokenised by the simulator's own chat tokenizer
 * (sim/prompt-tokens.ts), for the workload's maximum hit ratio. `answers[k]` is the text turn k got back.
 */
export function conversationTurnTokens(c: Pick<Conversation, 'system' | 'turns'>, answers: readonly string[]): TurnTokens[] {
  const out: TurnTokens[] = [];
  let previous: number[] | null = null;
  for (let k = 0; k < Math.min(answers.length, c.turns.length); k++) {
    const messages = turnMessages(c, k, answers);
    const prompt = chatPromptTokens(
      messages.map((m) => m.role),
      messages.map((m) => m.content),
    );
    const ids = prompt.ids;
    const maxCachedTokens = previous === null ? 0 : Math.min(commonPrefixLength(previous, ids), ids.length - 1);
    out.push({ promptTokens: ids.length, maxCachedTokens });
    previous = [...ids, ...prompt.answerIds(answers[k])];
  }
  return out;
}
