import { isEligible } from './eligibility';
import { nextTicket, type PumpNodeView } from './next-ticket';
import { fleetPriors, resolveRates } from './rate-priors';
import type { NodeSnapshot } from './scheduler.types';

/**
 * The fair reserve (ADR 006). Ollama cannot preempt: a tenant coming back behind another's burst of long requests
 * waits for one of them to end, then often gets a slow node. So while requests wait in the queue, a request of a
 * tenant that already has one running may not take the **last free slot of its model's fastest node** when another
 * tenant is *quiet*: it admitted a request within the window and has at most one request running or waiting (it
 * sends one at a time, as a person in a chat does). That tenant finds the fastest node free when it sends again,
 * and its request waiting takes the slot (its tenant has nothing running). The fast path applies it too, on what
 * one replica knows (fastPathKeepsFastestFree): a burst arriving while nobody waits would otherwise fill the
 * fastest node before the queue ever saw it.
 *
 * "At most one" leaves tenants with several requests out to the counters: two backlogged tenants do not keep a
 * slot idle for each other, and a tenant held to a small share by its weight does not get the slot beyond it.
 * With one tenant there is nobody else, and the rule never applies.
 */

/** A tenant seen within the window: its requests running and waiting now. */
export interface RecentTenant {
  tenant: string;
  running: number;
  waiting: number;
}

/** The tenants a slot is kept for: seen within the window (all of `recent`), at most one request in the herd. */
export function quietTenants(recent: readonly RecentTenant[]): string[] {
  return recent.filter((t) => t.running + t.waiting <= 1).map((t) => t.tenant);
}

/**
 * Whether a request of `tenant`, which has `running` requests running besides this one, must leave the last free
 * slot of the fastest node alone, given the quiet tenants.
 */
export function keepsFastestFree(tenant: string, running: number, quiet: readonly string[]): boolean {
  return running > 0 && quiet.some((t) => t !== tenant);
}

/**
 * The same rule on the fast path (nobody waits), decided on what one replica knows without a Redis read: whether
 * this is its tenant's only request on this replica (`aloneHere`), and the quiet tenants as read lately. A request
 * is kept out unless it is a quiet tenant's lone request, so a tenant not seen lately is kept out too: the first
 * request of a burst looks like anybody's first request. Kept out, it takes another free slot, or it waits in the
 * queue, where the pump applies keepsFastestFree on the counts shared in Redis and gives the slot to a tenant with
 * nothing running. So a burst arriving while another tenant is quiet leaves the fastest node's last slot free.
 */
export function fastPathKeepsFastestFree(tenant: string, aloneHere: boolean, quiet: readonly string[]): boolean {
  if (!quiet.some((t) => t !== tenant)) return false;
  return !(aloneHere && quiet.includes(tenant));
}

/**
 * The model's fastest node: of the nodes that may take the model, the one with the highest decode rate of one
 * stream as the scheduler resolves it (measured, else the node's tokensPerSecond hint, else the fleet's best;
 * see rate-priors.ts). On a tie a measured rate beats a prior, then the name decides, so every replica agrees.
 * Decode rate, not a ranking: the reserve is for whatever request comes next, not for one request's size.
 */
export function fastestNode(nodes: readonly NodeSnapshot[], model: string): string | undefined {
  const fleet = { nodes: nodes as NodeSnapshot[] };
  const priors = fleetPriors(fleet, model);
  let best: { name: string; tps: number; measured: boolean } | undefined;
  for (const n of nodes) {
    if (!isEligible(n, model)) continue;
    const r = resolveRates(n, model, priors);
    const c = { name: n.name, tps: r.decodeTps, measured: r.decodeSource === 'measured' };
    if (!best || c.tps > best.tps || (c.tps === best.tps && (c.measured !== best.measured ? c.measured : c.name < best.name))) best = c;
  }
  return best?.name;
}

/**
 * The loads as a kept-out request sees them: one more slot of `node` taken when it has a free one (`slots` is its
 * slot count), so its last free slot looks full. A full node is left as it is (its wait is the scheduler's estimate).
 */
export function withOneSlotKept<T extends { inFlight: number }>(loads: ReadonlyMap<string, T>, node: string | undefined, slots: number, blank: T): Map<string, T> {
  const out = new Map(loads);
  if (node === undefined) return out;
  const load = loads.get(node) ?? blank;
  if (load.inFlight < slots) out.set(node, { ...load, inFlight: load.inFlight + 1 });
  return out;
}

/**
 * nextTicket (next-ticket.ts) with the reserve: `keptFrom(entry)` names the node whose last free slot that entry
 * may not take (its model's fastest node, when keepsFastestFree), or undefined. Such an entry sees that node with
 * one slot fewer: with exactly one free slot, the node is full for it.
 */
export function nextTicketWithReserve<T extends { model: string }>(
  waiting: readonly T[],
  nodes: readonly PumpNodeView[],
  placingModels: readonly string[],
  keptFrom: (entry: T) => string | undefined,
): number | undefined {
  for (let i = 0; i < waiting.length; i++) {
    const kept = keptFrom(waiting[i]);
    const views = kept === undefined ? nodes : nodes.map((n) => (n.name === kept ? { ...n, inFlight: n.inFlight + 1 } : n));
    if (nextTicket([waiting[i]], views, placingModels) === 0) return i;
  }
  return undefined;
}
