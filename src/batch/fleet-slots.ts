import type { NodeConfig } from '../config/herd-config';

/** Slots of every node in the fleet (draining ones aside): what the lanes' caps are measured against. */
export function fleetSlots(nodes: readonly NodeConfig[]): number {
  return nodes.reduce((sum, n) => sum + (n.draining ? 0 : Math.max(0, n.slots)), 0);
}
