import { candidatesFor } from './candidates';
import { normalizeModelName } from './model-name';
import { compareFreeSlotsThenName, type Candidate } from './rank-order';
import { ratesFor } from './rate-priors';
import type { FleetSnapshot, NodeSnapshot, RankContext, RankedNode, RequestEstimate, Strategy } from './scheduler.types';

/**
 * How many times a wait for a busy node counts while another eligible node is free. Waiting keeps that
 * node idle and, because the queue hands out only as many jobs as there are free slots (ADR 001), it
 * also holds back every job queued behind this one, whatever their model. The scheduler cannot see
 * that queue, so a busy node must beat the best free one by a wide margin: its wait counts HOL_WAIT_WEIGHT
 * times. When no node is free nobody is held back and the plain estimate decides.
 */
export const HOL_WAIT_WEIGHT = 5;

/**
 * When the output length is unknown, decode time counts UNKNOWN_OUTPUT_RISK times in the ranking.
 * Lengths are right-skewed: the answers that end up at the tail are long answers that landed on a
 * slow node. Charging decode half again its mean makes a slow node take an unknown-length request
 * only when the alternative really is a long wait, and barely moves the choice between similar nodes
 * (the charge grows with the node's decode time).
 */
export const UNKNOWN_OUTPUT_RISK = 1.5;

/**
 * When the caller tells how many jobs wait in the queue behind this one (FleetSnapshot.queued = q), the wait
 * for a busy node while another is free counts QUEUED_WAIT_BASE + QUEUED_WAIT_PER_DELAYED_JOB * q (q + 1)
 * times instead of HOL_WAIT_WEIGHT. Every job held back pays the wait too, and so does every job that arrives
 * before the backlog clears. Queue lengths are roughly geometric (P(queue >= k) = rho^k), so q queued jobs are
 * themselves the best estimate of the load: rho = q / (q + 1), at which a backlog of q clears only after
 * q / (1 - rho) = q (q + 1) departures. Counting only the q queued undervalues a free slow node exactly when
 * the fleet is congested.
 */
export const QUEUED_WAIT_BASE = 3;
export const QUEUED_WAIT_PER_DELAYED_JOB = 1;

/** Jobs a wait delays when `queued` wait behind: the queued ones and those arriving before they are served. */
export function delayedJobs(queued: number): number {
  const q = Math.max(0, queued);
  return q * (q + 1);
}

export interface EctTuning {
  holWaitWeight: number;
  unknownOutputRisk: number;
  queuedWaitBase: number;
  queuedWaitPerDelayedJob: number;
}

export const DEFAULT_ECT_TUNING: EctTuning = {
  holWaitWeight: HOL_WAIT_WEIGHT,
  unknownOutputRisk: UNKNOWN_OUTPUT_RISK,
  queuedWaitBase: QUEUED_WAIT_BASE,
  queuedWaitPerDelayedJob: QUEUED_WAIT_PER_DELAYED_JOB,
};

/** Estimates equal to the microsecond are ties, so float noise never decides between two nodes. */
function tieKey(ms: number): number {
  return Math.round(ms * 1000);
}

/** 0 for a node that has measured the model's decode rate, 1 for one that runs on a prior. */
function untried(node: NodeSnapshot, model: string): number {
  const r = ratesFor(node, model);
  return r && r.samples > 0 && r.decodeTps !== undefined ? 0 : 1;
}

/**
 * Earliest estimated completion first, with the two costs the estimate of one request leaves out
 * (see HOL_WAIT_WEIGHT and UNKNOWN_OUTPUT_RISK). A busy node may come first: the caller then waits for
 * a slot and ranks again, which is how a fast busy node beats an idle slow one. Each node keeps its
 * plain estimate (estimateMs); only the order uses the weighted score. Ties go to an untried node, then
 * to more free slots, then to the name.
 */
export class EctStrategy implements Strategy {
  readonly name = 'ect' as const;
  readonly tuning: EctTuning;

  constructor(tuning: Partial<EctTuning> = {}) {
    this.tuning = { ...DEFAULT_ECT_TUNING, ...tuning };
  }

  /** How many times a wait for a busy node counts while some eligible node is free. */
  holdBackWeight(queued: number | undefined): number {
    if (queued === undefined || !Number.isFinite(queued)) return this.tuning.holWaitWeight;
    return this.tuning.queuedWaitBase + this.tuning.queuedWaitPerDelayedJob * delayedJobs(queued);
  }

  /**
   * How many times more the prefill of prompt tokens another node holds counts (RankedNode.parts.repeatedPrefillMs):
   * once for the work done twice, and once for each job it delays when `queued` wait (delayedJobs), as a wait does.
   */
  repeatWeight(queued: number | undefined): number {
    return 1 + this.tuning.queuedWaitPerDelayedJob * delayedJobs(queued !== undefined && Number.isFinite(queued) ? queued : 0);
  }

  /**
   * The ranking score of one candidate; `waitWeight` applies to its slot wait, `repeatWeight` to the prefill of
   * prompt tokens another node holds in its cache.
   */
  score(ranked: RankedNode, request: RequestEstimate, waitWeight: number, repeatWeight = 0): number {
    const decodeWeight = request.outputTokensKnown ? 1 : this.tuning.unknownOutputRisk;
    return (
      ranked.estimateMs +
      (waitWeight - 1) * ranked.parts.slotWaitMs +
      (decodeWeight - 1) * ranked.parts.decodeMs +
      repeatWeight * (ranked.parts.repeatedPrefillMs ?? 0)
    );
  }

  rank(request: RequestEstimate, fleet: FleetSnapshot, _ctx: RankContext): RankedNode[] {
    const candidates = candidatesFor(request, fleet);
    const waitWeight = candidates.some((c) => c.ranked.free) ? this.holdBackWeight(fleet.queued) : 1;
    const repeatWeight = this.repeatWeight(fleet.queued);
    const model = normalizeModelName(request.model);
    // A wait for the node holding the prompt holds nobody back: such a placement claims a slot on that node only
    // (placingClaim), so that wait counts at face value.
    const weightFor = (c: Candidate): number => ((request.cachedTokens?.[c.node.name] ?? 0) > 0 ? 1 : waitWeight);
    const keyed = candidates.map((c): [Candidate, number, number] => [c, tieKey(this.score(c.ranked, request, weightFor(c), repeatWeight)), untried(c.node, model)]);
    // On a tie an untried node goes first: its prior is the fleet's best rate, so without this a name that
    // sorts after a measured node's would never be tried at all.
    return keyed.sort(([a, ka, ua], [b, kb, ub]) => ka - kb || ub - ua || compareFreeSlotsThenName(a.node, b.node)).map(([c]) => c.ranked);
  }
}
