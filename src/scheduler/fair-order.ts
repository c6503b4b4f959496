/**
 * Weighted fair share between tenants inside one priority level, after the Virtual Token Counter of Sheng et al.,
 * "Fairness in Serving Large Language Models" (OSDI 2024). Each tenant has a counter of the service it received:
 * every token served, divided by the tenant's weight, output tokens weighing twice an input token. The next free
 * slot goes to the waiting request of the best priority whose tenant has the smallest counter. A tenant that
 * starts waiting again is lifted to the smallest counter among the tenants already waiting (or, with nobody
 * waiting, to the counter of the tenant served last), so time spent idle is not banked.
 */

/** Cost weights of the paper's default: an output token costs two input tokens. */
export const PROMPT_TOKEN_COST = 1;
export const OUTPUT_TOKEN_COST = 2;

/** What serving a request adds to its tenant's counter. */
export function serviceCost(promptTokens: number, outputTokens: number, weight: number): number {
  const w = weight > 0 ? weight : 1;
  return (PROMPT_TOKEN_COST * Math.max(0, promptTokens) + OUTPUT_TOKEN_COST * Math.max(0, outputTokens)) / w;
}

/** A waiting request as the fair-share index holds it. */
export interface FairEntry {
  requestId: string;
  model: string;
  tenant: string;
  priority: number;
  /** Arrival order across all tenants (smaller came first). */
  seq: number;
}

/**
 * The order in which waiting requests should get the next slot: priority first; within a priority, with fair
 * share on, the tenant with the smaller counter, on equal counters the tenant with fewer requests waiting, then
 * arrival; with fair share off, arrival only (FIFO). Each tenant's own requests keep their arrival order.
 *
 * Equal counters are common: a tenant that starts waiting is lifted to exactly the smallest waiting counter.
 * Arrival order would then make a tenant coming back with one request wait for one more of the backlogged
 * tenant's, every time; the lighter backlog goes first instead.
 */
export function fairOrder(entries: readonly FairEntry[], counters: ReadonlyMap<string, number>, fairShare: boolean): FairEntry[] {
  if (!fairShare) return [...entries].sort((a, b) => a.priority - b.priority || a.seq - b.seq);
  const counter = (tenant: string): number => counters.get(tenant) ?? 0;
  const waiting = new Map<string, number>();
  for (const e of entries) waiting.set(e.tenant, (waiting.get(e.tenant) ?? 0) + 1);
  return [...entries].sort((a, b) => a.priority - b.priority || counter(a.tenant) - counter(b.tenant) || waiting.get(a.tenant)! - waiting.get(b.tenant)! || a.seq - b.seq);
}

/**
 * The counter a tenant gets when it starts waiting again: lifted to the smallest counter among the tenants
 * waiting now, or, when nobody waits, to the counter of the tenant served last; never lowered.
 */
export function liftedCounter(own: number, waitingCounters: readonly number[], lastServed: number): number {
  const floor = waitingCounters.length > 0 ? Math.min(...waitingCounters) : lastServed;
  return Math.max(own, floor);
}
