import { countTokens } from '../../sim/token-text';
import { exponential, mulberry32 } from './prng';

/**
 * The multi-turn chat workload of bench:affinity: seeded conversations, each with a long system prompt of its own,
 * whose turns follow one another after a think time. Only the first turn of each conversation arrives on a schedule
 * (open loop); every later turn waits for the previous answer, because its messages carry that answer.
 */

export interface ConversationTurn {
  /** The user message of this turn. */
  user: string;
  /** num_predict of this turn (the simulator answers exactly this many tokens). */
  numPredict: number;
  /** Think time before this turn is sent, counted from the previous answer's end; 0 for the first turn. Simulated ms. */
  thinkMs: number;
}

export interface Conversation {
  id: string;
  /** When the first turn is sent, simulated ms from the start of the run. */
  startMs: number;
  system: string;
  turns: ConversationTurn[];
}

export interface ConversationOptions {
  seed: number;
  /** Conversations. Default 24. */
  count?: number;
  /** Turns per conversation. Default 6. */
  turns?: number;
  /** Prompt tokens of each system prompt (the simulator's count). Default 1500. */
  systemTokens?: number;
  /** Prompt tokens of each user message, before the chat template's 4. Default 28. */
  userTokens?: number;
  /** num_predict of each turn, drawn uniformly from [min, max]. Default [35, 65]: about 1.3x that in prompt tokens next turn. */
  answerTokens?: [number, number];
  /** Think time between turns, drawn uniformly from [min, max] simulated ms. Default [5000, 15000]. */
  thinkMs?: [number, number];
  /** Offered load, as a share of the fleet's capacity (see loadBasis). Default 0.7. */
  load?: number;
  /**
   * What the load counts: 'cached' (default), the work with every follow-up turn fully cached (offeredWorkFullyCached:
   * the fleet is `load` busy when its caches work as designed); 'cold', the work with every prompt token prefilled
   * (offeredWork: `load` busy when nothing is cached).
   */
  loadBasis?: LoadBasis;
  /** What the fleet does per second with every slot busy; sets the conversations' arrival rate. */
  capacity: FleetRates;
}

export type LoadBasis = 'cached' | 'cold';

/** Aggregate rates of a fleet with every slot busy: output tokens per second and prompt tokens prefilled per second. */
export interface FleetRates {
  decodeTps: number;
  prefillTps: number;
}

export const CONVERSATION_DEFAULTS = {
  count: 24,
  turns: 6,
  systemTokens: 1500,
  userTokens: 28,
  answerTokens: [35, 65] as [number, number],
  thinkMs: [5000, 15000] as [number, number],
  load: 0.7,
  loadBasis: 'cached' as LoadBasis,
} as const;

/** Template tokens the simulator adds per chat message (a role marker and an end of turn); sim/token-text.ts. */
export const CHAT_TEMPLATE_TOKENS = 4;
/** Prompt tokens per answer token when the answer comes back in the next turn (its words and punctuation). */
export const ANSWER_PROMPT_TOKENS_PER_TOKEN = 1.3;

const WORDS = (
  'cluster node queue token prompt answer latency memory model request stream schedule cache slot prefix ' +
  'conversation system user assistant budget deadline priority tenant fleet gateway metric window batch ' +
  'review design plan deploy rollback config secret audit policy region shard replica index query table ' +
  'invoice order customer ticket refund report summary draft email meeting agenda note task owner status ' +
  'risk issue bug patch release version branch commit build test coverage alert incident runbook pager'
).split(' ');

/** Punctuation the simulator counts as half a token (sim/token-text.ts). */
const MARKS = '.,;:!?()[]{}"\'`-_/\\*#=+<>|@&%$';

function uniform(rng: () => number, [min, max]: readonly [number, number]): number {
  return min + rng() * (max - min);
}

/**
 * Words and sentences until the simulator's count (round(words * 1.3 + marks * 0.5), sim/token-text.ts) reaches
 * `tokens`. The first word is `head`, unique per conversation, so two conversations share no prefix but the template.
 */
export function filler(rng: () => number, head: string, tokens: number): string {
  const out: string[] = [head];
  let words = 1;
  let marks = [...head].filter((c) => MARKS.includes(c)).length;
  let sentence = 0;
  while (Math.round(words * 1.3 + marks * 0.5) < tokens) {
    let word = WORDS[Math.floor(rng() * WORDS.length)];
    sentence++;
    if (sentence >= 8 && rng() < 0.15) {
      word += '.';
      marks++;
      sentence = 0;
    }
    out.push(word);
    words++;
  }
  return out.join(' ');
}

function validate(o: ConversationOptions): void {
  const problems: string[] = [];
  const positiveInt = (name: string, v: number | undefined): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) problems.push(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt('count', o.count);
  positiveInt('turns', o.turns);
  positiveInt('systemTokens', o.systemTokens);
  positiveInt('userTokens', o.userTokens);
  const range = (name: string, r: [number, number] | undefined, min: number): void => {
    if (r !== undefined && !(r[0] >= min && r[1] >= r[0])) problems.push(`${name} must be [min, max] with ${min} <= min <= max, got ${JSON.stringify(r)}`);
  };
  range('answerTokens', o.answerTokens, 1);
  range('thinkMs', o.thinkMs, 0);
  if (o.load !== undefined && !(o.load > 0)) problems.push(`load must be > 0, got ${o.load}`);
  if (o.loadBasis !== undefined && o.loadBasis !== 'cached' && o.loadBasis !== 'cold') problems.push(`loadBasis must be cached or cold, got ${String(o.loadBasis)}`);
  if (!(o.capacity.decodeTps > 0 && o.capacity.prefillTps > 0)) problems.push('capacity rates must be > 0');
  if (problems.length) throw new Error(`makeConversations: ${problems.join('; ')}`);
}

/**
 * Prompt tokens the simulator will count for each turn of a conversation, with every answer taken to be
 * ANSWER_PROMPT_TOKENS_PER_TOKEN x its num_predict (the real count is known only once the node has answered).
 */
export function estimatedPromptTokens(c: Pick<Conversation, 'system' | 'turns'>): number[] {
  let context = countTokens(c.system) + CHAT_TEMPLATE_TOKENS;
  return c.turns.map((t, i) => {
    if (i > 0) context += Math.round(c.turns[i - 1].numPredict * ANSWER_PROMPT_TOKENS_PER_TOKEN) + CHAT_TEMPLATE_TOKENS;
    context += countTokens(t.user) + CHAT_TEMPLATE_TOKENS;
    return context;
  });
}

/** Seconds of the whole fleet a conversation takes with every prompt token prefilled (no cache): output / decode + prompt / prefill. */
export function offeredWork(c: Pick<Conversation, 'system' | 'turns'>, rates: FleetRates): number {
  const prompts = estimatedPromptTokens(c);
  return c.turns.reduce((s, t, i) => s + t.numPredict / rates.decodeTps + prompts[i] / rates.prefillTps, 0);
}

/** The same work when every follow-up turn finds its conversation so far cached: only the new tokens are prefilled. */
export function offeredWorkFullyCached(c: Pick<Conversation, 'system' | 'turns'>, rates: FleetRates): number {
  const prompts = estimatedPromptTokens(c);
  return c.turns.reduce((s, t, i) => s + t.numPredict / rates.decodeTps + (prompts[i] - (i > 0 ? prompts[i - 1] : 0)) / rates.prefillTps, 0);
}

/**
 * A seeded workload. Content comes from one random stream and arrival times from another, so the same seed gives the
 * same conversations at any load. Conversation starts are a Poisson process conditioned on the last one falling at
 * the end of the window whose length makes the offered work `load` of the fleet's capacity: the total work (fully
 * cached, or cold: see loadBasis) divided by load.
 */
export function makeConversations(options: ConversationOptions): Conversation[] {
  validate(options);
  const o = { ...CONVERSATION_DEFAULTS, ...options };
  const content = mulberry32(o.seed);
  const arrivals = mulberry32(o.seed ^ 0x5bd1e995);
  const convs = Array.from({ length: o.count }, (_, i) => {
    const id = `s${o.seed}c${i}`;
    const system = filler(content, `Session-${id}:`, o.systemTokens);
    const turns = Array.from({ length: o.turns }, (_, k) => ({
      user: filler(content, `Q${k + 1}-${id}?`, o.userTokens),
      numPredict: Math.round(uniform(content, o.answerTokens)),
      thinkMs: k === 0 ? 0 : Math.round(uniform(content, o.thinkMs)),
    }));
    return { id, system, turns };
  });
  const work = o.loadBasis === 'cold' ? offeredWork : offeredWorkFullyCached;
  const totalWork = convs.reduce((s, c) => s + work(c, o.capacity), 0);
  const windowMs = (totalWork / o.load) * 1000;
  const gaps = convs.map(() => exponential(arrivals, 1));
  const gapSum = gaps.reduce((s, g) => s + g, 0);
  let at = 0;
  return convs.map((c, i) => {
    at += gaps[i];
    return { id: c.id, startMs: (at / gapSum) * windowMs, system: c.system, turns: c.turns };
  });
}

/** Offered work over the conversations' start window, as a share of the fleet's capacity (== load on its basis). */
export function conversationsLoad(convs: Conversation[], rates: FleetRates, cached: boolean): number {
  if (convs.length === 0) return 0;
  const work = convs.reduce((s, c) => s + (cached ? offeredWorkFullyCached : offeredWork)(c, rates), 0);
  return work / (convs[convs.length - 1].startMs / 1000);
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The messages of turn `k`: the system prompt, then every earlier user message and the answer actually returned, then turn k's user message. */
export function turnMessages(c: Pick<Conversation, 'system' | 'turns'>, k: number, answers: readonly string[]): ChatMessage[] {
  if (answers.length < k) throw new Error(`turn ${k} needs ${k} answers, got ${answers.length}`);
  const messages: ChatMessage[] = [{ role: 'system', content: c.system }];
  for (let i = 0; i < k; i++) messages.push({ role: 'user', content: c.turns[i].user }, { role: 'assistant', content: answers[i] });
  messages.push({ role: 'user', content: c.turns[k].user });
  return messages;
}
