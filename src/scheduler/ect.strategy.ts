import { candidatesFor } from './candidates';
import { compareFreeSlotsThenName, type Candidate } from './rank-order';
import type { FleetSnapshot, RankContext, RankedNode, RequestEstimate, Strategy } from './scheduler.types';

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
 * slow node. Charging decode a little above its mean makes a slow node take an unknown-length request
 * only when the alternative really is a long wait, and barely moves the choice between similar nodes.
 */
export const UNKNOWN_OUTPUT_RISK = 1.25;

export interface EctTuning {
  holWaitWeight: number;
  unknownOutputRisk: number;
}

export const DEFAULT_ECT_TUNING: EctTuning = { holWaitWeight: HOL_WAIT_WEIGHT, unknownOutputRisk: UNKNOWN_OUTPUT_RISK };

/** Estimates equal to the microsecond are ties, so float noise never decides between two nodes. */
function tieKey(ms: number): number {
  return Math.round(ms * 1000);
}

/**
 * Earliest estimated completion first, with the two costs the estimate of one request leaves out
 * (see HOL_WAIT_WEIGHT and UNKNOWN_OUTPUT_RISK). A busy node may come first: the caller then waits for
 * a slot and ranks again, which is how a fast busy node beats an idle slow one. Each node keeps its
 * plain estimate (estimateMs); only the order uses the weighted score.
 */
export class EctStrategy implements Strategy {
  readonly name = 'ect' as const;
  readonly tuning: EctTuning;

  constructor(tuning: Partial<EctTuning> = {}) {
    this.tuning = { ...DEFAULT_ECT_TUNING, ...tuning };
  }

  /** The ranking score of one candidate; `anyFree` tells whether some eligible node has a free slot. */
  score(ranked: RankedNode, request: RequestEstimate, anyFree: boolean): number {
    const waitWeight = anyFree ? this.tuning.holWaitWeight : 1;
    const decodeWeight = request.outputTokensKnown ? 1 : this.tuning.unknownOutputRisk;
    return ranked.estimateMs + (waitWeight - 1) * ranked.parts.slotWaitMs + (decodeWeight - 1) * ranked.parts.decodeMs;
  }

  rank(request: RequestEstimate, fleet: FleetSnapshot, _ctx: RankContext): RankedNode[] {
    const candidates = candidatesFor(request, fleet);
    const anyFree = candidates.some((c) => c.ranked.free);
    const keyed = candidates.map((c): [Candidate, number] => [c, tieKey(this.score(c.ranked, request, anyFree))]);
    return keyed.sort(([a, ka], [b, kb]) => ka - kb || compareFreeSlotsThenName(a.node, b.node)).map(([c]) => c.ranked);
  }
}
