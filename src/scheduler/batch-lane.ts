/**
 * Where the batch lane may put a line now (ADR 008). Ollama cannot preempt: a slot given to batch work is lost to
 * interactive requests until the line ends, so batch work only takes what interactive work is least likely to miss.
 *
 * - Only idle nodes: a line never shares a node with a running request (parallel streams slow each other down).
 * - Never a model's `keepFastest` fastest nodes (as ranked for this request on an idle fleet): an interactive
 *   request arriving while batch work runs still finds the best node free. A model on fewer nodes keeps at least
 *   one node for the batch lane, or its batch would never run.
 * - Nothing while every kept node is full: interactive work then spills onto the other nodes, and a line started
 *   there now would be in its way.
 *
 * `idleRanking` is every node that has the model, best first as if all were idle; the answer keeps that order.
 */
export function batchLaneNodes(idleRanking: readonly string[], inFlight: ReadonlyMap<string, number>, slots: ReadonlyMap<string, number>, keepFastest: number): string[] {
  const keep = Math.min(Math.max(0, Math.floor(keepFastest)), Math.max(0, idleRanking.length - 1));
  const running = (node: string): number => inFlight.get(node) ?? 0;
  const kept = idleRanking.slice(0, keep);
  if (kept.length > 0 && kept.every((node) => running(node) >= (slots.get(node) ?? 1))) return [];
  return idleRanking.slice(keep).filter((node) => running(node) === 0);
}

/** Most batch lines running at once: HERD_BATCH_MAX_RUNNING, or 0 for half the fleet's slots (at least one). */
export function batchLaneCap(configured: number, fleetSlots: number): number {
  if (configured > 0) return configured;
  return Math.max(1, Math.floor(fleetSlots / 2));
}
