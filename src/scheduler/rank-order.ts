import type { NodeSnapshot, RankedNode } from './scheduler.types';

/** A node with its estimate, so orderings can look at both. */
export interface Candidate {
  node: NodeSnapshot;
  ranked: RankedNode;
}

export function freeSlots(node: NodeSnapshot): number {
  return Math.max(0, node.slots - node.inFlight);
}

/** Code-unit order, so the result never depends on the host's locale. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The deterministic tie-break every strategy ends with: more free slots first, then name. */
export function compareFreeSlotsThenName(a: NodeSnapshot, b: NodeSnapshot): number {
  return freeSlots(b) - freeSlots(a) || compareNames(a.name, b.name);
}

/** Stable: keeps the given order inside the free group and inside the busy group. */
export function freeFirst<T extends { ranked: RankedNode }>(items: T[]): T[] {
  return [...items.filter((c) => c.ranked.free), ...items.filter((c) => !c.ranked.free)];
}

/** Rotates `items` left by `by` (any integer, also negative or beyond the length). */
export function rotate<T>(items: T[], by: number): T[] {
  if (items.length === 0) return [];
  const start = ((Math.trunc(by) % items.length) + items.length) % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}
