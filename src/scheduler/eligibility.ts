import { findModel } from './model-name';
import type { FleetSnapshot, NodeModel, NodeSnapshot } from './scheduler.types';

export type IneligibleReason = 'unhealthy' | 'draining' | 'no-slots' | 'no-model' | 'too-small';

const BYTES_PER_GB = 1024 ** 3;

/**
 * What the one eligibility rule reads of a node. The scheduler passes whole snapshots; the fleet registry (which
 * nodes may take a model at all) and the queue pump (which waiting job may start) pass just this.
 */
export type EligibilityView = Pick<NodeSnapshot, 'name' | 'healthy' | 'draining' | 'slots' | 'models' | 'memoryGb'>;

/** The node's entry for `model`, matched as Ollama matches names (see model-name.ts). */
export function findNodeModel(node: Pick<NodeSnapshot, 'models'>, model: string): NodeModel | undefined {
  return findModel(node.models, model);
}

/** Why the node cannot take a request for `model`, or undefined when it can. */
export function ineligibility(node: EligibilityView, model: string): IneligibleReason | undefined {
  if (!node.healthy) return 'unhealthy';
  if (node.draining) return 'draining';
  if (!(node.slots >= 1)) return 'no-slots';
  const found = findNodeModel(node, model);
  if (!found) return 'no-model';
  if (node.memoryGb !== undefined && found.sizeBytes !== undefined && found.sizeBytes > node.memoryGb * BYTES_PER_GB) {
    return 'too-small';
  }
  return undefined;
}

export function isEligible(node: EligibilityView, model: string): boolean {
  return ineligibility(node, model) === undefined;
}

export function eligibleNodes(fleet: FleetSnapshot, model: string): NodeSnapshot[] {
  return fleet.nodes.filter((n) => isEligible(n, model));
}
