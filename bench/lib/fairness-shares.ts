/** One answered request as the fairness bench sees it from the client side. Times are real ms from the run's start. */
export interface DispatchedRequest {
  tenant: string;
  sentMs: number;
  /** When a node was reserved for it: sentMs + X-Herd-Queue-Ms. */
  dispatchMs: number;
  promptTokens: number;
  outputTokens: number;
}

export interface TenantShare {
  tenant: string;
  requests: number;
  outputTokens: number;
  /** promptTokens + 2 x outputTokens, summed: what the fair-share counters charge. */
  cost: number;
  outputShare: number;
  costShare: number;
}

export interface ContentionShares {
  shares: TenantShare[];
  /** Dispatches counted (made while every tenant had a request waiting). */
  counted: number;
  /** First and last counted dispatch; NaN when none. */
  fromMs: number;
  toMs: number;
}

/** The service a request is charged for by fair share: input tokens plus output tokens weighed twice. */
export function serviceCost(promptTokens: number, outputTokens: number): number {
  return promptTokens + 2 * outputTokens;
}

/** Whether `tenant` had a request waiting at `t` other than `except`: sent by then and not dispatched before it. */
function waitingAt(requests: DispatchedRequest[], tenant: string, t: number, except: DispatchedRequest): boolean {
  return requests.some((q) => q !== except && q.tenant === tenant && q.sentMs <= t && q.dispatchMs >= t);
}

/**
 * Each tenant's share of the service dispatched while every tenant was backlogged: a dispatch counts when, at
 * its moment, each other tenant also had a request waiting (so the gateway had a choice between tenants).
 * The whole request is charged at its dispatch, as a fair-share counter charges a chosen request.
 */
export function contentionShares(requests: DispatchedRequest[], tenants: string[]): ContentionShares {
  const totals = new Map(tenants.map((t) => [t, { requests: 0, outputTokens: 0, cost: 0 }]));
  let counted = 0;
  let fromMs = NaN;
  let toMs = NaN;
  for (const r of requests) {
    const mine = totals.get(r.tenant);
    if (!mine) continue;
    const contended = tenants.every((t) => t === r.tenant || waitingAt(requests, t, r.dispatchMs, r));
    if (!contended) continue;
    mine.requests++;
    mine.outputTokens += r.outputTokens;
    mine.cost += serviceCost(r.promptTokens, r.outputTokens);
    counted++;
    fromMs = Number.isNaN(fromMs) ? r.dispatchMs : Math.min(fromMs, r.dispatchMs);
    toMs = Number.isNaN(toMs) ? r.dispatchMs : Math.max(toMs, r.dispatchMs);
  }
  const sum = (f: (v: { outputTokens: number; cost: number }) => number): number => [...totals.values()].reduce((s, v) => s + f(v), 0);
  const outputAll = sum((v) => v.outputTokens);
  const costAll = sum((v) => v.cost);
  const shares = tenants.map((tenant) => {
    const v = totals.get(tenant)!;
    return { tenant, ...v, outputShare: outputAll > 0 ? v.outputTokens / outputAll : NaN, costShare: costAll > 0 ? v.cost / costAll : NaN };
  });
  return { shares, counted, fromMs, toMs };
}

/** Each share against its weight's share: share / (weight / sum of weights) - 1. */
export function shareDeviations(shares: number[], weights: number[]): number[] {
  const total = weights.reduce((s, w) => s + w, 0);
  return shares.map((s, i) => s / (weights[i] / total) - 1);
}

/** The bar: every tenant's share within `tolerance` (relative, 0.1 = 10%) of its weight's share. */
export function sharesWithin(shares: number[], weights: number[], tolerance: number): boolean {
  return shareDeviations(shares, weights).every((d) => Number.isFinite(d) && Math.abs(d) <= tolerance);
}

/**
 * For each request of `tenant`, how long after it was sent the next slot went to anybody (the first dispatch at
 * or after its sending). With every slot busy, that is as early as a scheduler that never holds a slot empty
 * and cannot preempt could have started it.
 */
export function firstSlotWaits(requests: DispatchedRequest[], tenant: string): number[] {
  const dispatches = requests.map((r) => r.dispatchMs).sort((x, y) => x - y);
  return requests
    .filter((r) => r.tenant === tenant)
    .map((r) => {
      const next = dispatches.find((d) => d >= r.sentMs);
      return next === undefined ? NaN : next - r.sentMs;
    });
}
