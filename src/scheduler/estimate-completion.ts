import { DEFAULT_OUTPUT_TOKENS } from './estimate-request';
import { normalizeModelName } from './model-name';
import { fleetPriors, resolveRates, type FleetPriors, type ResolvedRates } from './rate-priors';
import type { EstimateParts, FleetSnapshot, NodeSnapshot, RankedNode, RequestEstimate } from './scheduler.types';

/**
 * Share of the delay this request imposes on the streams already running on a node that is added
 * to its own estimate. The full externality is the right myopic cost for mean latency, but its
 * inputs (the others' remaining work) are rough, so only half is charged: enough to break
 * near-ties towards the less loaded node while estimateMs stays close to a completion time.
 */
export const CONTENTION_WEIGHT = 0.5;

/** Least share of a typical answer that a running request is assumed to have left (see typicalRemainingTokens). */
export const RUNNING_REMAINING_SHARE = 1;

/** Rate of each stream when `streams` run at once on the node. */
export function perStreamTps(rates: Pick<ResolvedRates, 'decodeTps' | 'slowdown'>, streams: number): number {
  return rates.decodeTps / (1 + rates.slowdown * (Math.max(1, streams) - 1));
}

/**
 * Time until a slot frees on a full node (inFlight >= slots).
 *
 * Model: the node runs `slots` streams, each at perStreamTps(slots); each of the inFlight requests has
 * b tokens left on average: the backlog B / inFlight, but at least `minRemainingTokens` (see
 * typicalRemainingTokens: an answer of unknown length that has run a while is probably a long one,
 * so it has about as much left as a fresh one). Since what is left barely depends on what is done, the
 * remaining work is taken as memoryless: the first of `slots` running answers finishes after b / slots
 * tokens of each stream (for the simulator's log-normal lengths the first of two finishes after 0.47 b on
 * average; an even spread over (0, 2b] would say 0.67 b), and so does every further completion when the
 * node holds more requests than slots (queued inside Ollama). With one slot this is b * inFlight /
 * throughput: the whole backlog must drain. Prompt tokens in the backlog are counted as if decoded,
 * which overestimates the wait a little.
 */
export function slotWaitMs(
  node: Pick<NodeSnapshot, 'slots' | 'inFlight' | 'backlogTokens'>,
  rates: Pick<ResolvedRates, 'decodeTps' | 'slowdown'>,
  minRemainingTokens = 0,
): number {
  if (node.inFlight < node.slots) return 0;
  const meanRemaining = meanRemainingTokens(node, minRemainingTokens);
  const perStream = perStreamTps(rates, node.slots);
  const completions = node.inFlight - node.slots + 1;
  return ((completions * meanRemaining) / (node.slots * perStream)) * 1000;
}

/** Tokens each running request has left on average: its share of the backlog, at least `floor`. */
export function meanRemainingTokens(node: Pick<NodeSnapshot, 'inFlight' | 'backlogTokens'>, floor = 0): number {
  if (!(node.inFlight > 0)) return 0;
  return Math.max(Math.max(0, node.backlogTokens) / node.inFlight, Math.max(0, floor));
}

/**
 * Tokens a running request is assumed to have left at least. The ledger counts a running request
 * down over its estimate, but output lengths are heavy-tailed: an answer still running past its
 * estimate is probably a long one, with about as much left as a fresh answer (for a log-normal
 * length the expected remainder barely shrinks with age). So each running request is taken to
 * have at least RUNNING_REMAINING_SHARE of a typical answer still to produce. The typical answer is
 * what this request expects when its length is unknown (the model's recent mean); a num_predict cap
 * is not typical of anything, so a capped request uses min(cap, DEFAULT_OUTPUT_TOKENS) (Herd already
 * passes min(cap, recent mean) when it knows the mean).
 */
export function typicalRemainingTokens(request: Pick<RequestEstimate, 'outputTokens' | 'outputTokensKnown'>): number {
  const own = Math.max(0, request.outputTokens);
  const typical = request.outputTokensKnown ? Math.min(own, DEFAULT_OUTPUT_TOKENS) : own;
  return RUNNING_REMAINING_SHARE * typical;
}

/** The most prompt tokens any node holds for this request. */
function mostCached(request: Pick<RequestEstimate, 'cachedTokens'>): number {
  let most = 0;
  for (const tokens of Object.values(request.cachedTokens ?? {})) if (tokens > most) most = tokens;
  return most;
}

function isResident(node: NodeSnapshot, model: string): boolean {
  return node.resident.some((r) => normalizeModelName(r) === model);
}

/**
 * Predicted completion of `request` on `node` (see README/ARCHITECTURE "The scheduler"):
 * slot wait + load (when not resident) + prefill + decode at the parallelism it will run at,
 * plus CONTENTION_WEIGHT times the delay it adds to the streams already there. Running requests
 * are taken to have at least typicalRemainingTokens(request) left, for the wait and the contention.
 * The caller passes eligible nodes only.
 */
export function estimateOnNode(request: RequestEstimate, node: NodeSnapshot, priors: FleetPriors): RankedNode {
  const model = normalizeModelName(request.model);
  const rates = resolveRates(node, model, priors);
  const inFlight = Math.max(0, node.inFlight);
  const streams = Math.min(inFlight + 1, node.slots);
  const floor = typicalRemainingTokens(request);

  const waitMs = slotWaitMs({ slots: node.slots, inFlight, backlogTokens: node.backlogTokens }, rates, floor);
  const loadMs = isResident(node, model) ? 0 : rates.loadMs;
  const promptTokens = Math.max(0, request.promptTokens);
  // A prompt found in the node's cache is evaluated only from where the cached part ends (at least one token).
  const cachedTokens = Math.min(Math.max(0, request.cachedTokens?.[node.name] ?? 0), Math.max(0, promptTokens - 1));
  const prefillMs = ((promptTokens - cachedTokens) / rates.prefillTps) * 1000;
  const ownRate = perStreamTps(rates, streams);
  const decodeMs = (Math.max(0, request.outputTokens) / ownRate) * 1000;

  let contentionMs = 0;
  const others = streams - 1;
  if (others > 0) {
    const othersRemainingMs = (meanRemainingTokens({ inFlight, backlogTokens: node.backlogTokens }, floor) / ownRate) * 1000;
    const overlapMs = Math.min(decodeMs, othersRemainingMs);
    const slowdownOfOthers = 1 - ownRate / perStreamTps(rates, streams - 1);
    contentionMs = CONTENTION_WEIGHT * others * overlapMs * slowdownOfOthers;
  }

  const parts: EstimateParts = { slotWaitMs: waitMs, loadMs, prefillMs, decodeMs, contentionMs };
  if (cachedTokens > 0) parts.cachedTokens = cachedTokens;
  const repeatedTokens = Math.max(0, Math.min(mostCached(request), promptTokens - 1) - cachedTokens);
  if (repeatedTokens > 0) parts.repeatedPrefillMs = (repeatedTokens / rates.prefillTps) * 1000;
  return {
    node: node.name,
    estimateMs: waitMs + loadMs + prefillMs + decodeMs + contentionMs,
    parts,
    free: inFlight < node.slots,
  };
}

/** The same estimate for every node given, in the given order; strategies only reorder it. */
export function estimateAll(request: RequestEstimate, nodes: NodeSnapshot[], fleet: FleetSnapshot): RankedNode[] {
  const priors = fleetPriors(fleet, normalizeModelName(request.model));
  return nodes.map((n) => estimateOnNode(request, n, priors));
}
