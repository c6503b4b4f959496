import type { NodeConfig } from '../../config/herd-config';
import type { NodeState } from '../../fleet/fleet-registry';
import type { NodeHealth } from '../../fleet/fleet.types';
import { agentIdFor } from './agent-id';
import { nodeAddress } from './node-address';

/** Labels Herd keeps on a node registered through Coordinator's POST /api/agents. */
export const AGENT_LABELS = {
  id: 'coordinator.agent_id',
  version: 'coordinator.ollama_version',
  registeredAt: 'coordinator.registered_at',
} as const;

/** What Herd knows of one node, read once for all of Connector's and Coordinator's shapes. */
export interface NodeFacts {
  node: NodeConfig;
  health: NodeHealth | undefined;
  state: NodeState;
  /** The breaker is open or probing: the node failed repeatedly (3 in a row opens it). */
  failing: boolean;
  /** Requests running on the node, from every replica (the lease ledger). */
  inFlight: number;
  /** Last heartbeat (POST /herd/nodes/heartbeat or /api/health), epoch ms; undefined when it never sent one. */
  heartbeatAt: number | undefined;
  /** Addresses only for callers who pass the admin check, like node URLs elsewhere. */
  showAddress: boolean;
}

/** Ollama Connector's node. */
export interface ConnectorNode {
  node_id: string;
  ipv4: string | null;
  ipv6: string | null;
  port: number | null;
  models: string[];
  metadata: Record<string, unknown>;
  load: { cpu: number | null; memory: number | null };
  last_seen: string | null;
  status: 'online' | 'offline' | 'degraded';
  active_jobs: number;
  failure_count: number;
}

/** Ollama Coordinator's agent. */
export interface CoordinatorAgent {
  id: string;
  machine_name: string;
  ip_address: string | null;
  ollama_version: string | null;
  ollama_port: number | null;
  status: 'online' | 'offline';
  registered_at: string | null;
  last_seen: string | null;
}

export function connectorNode(f: NodeFacts): ConnectorNode {
  const address = f.showAddress ? nodeAddress(f.node.url) : undefined;
  return {
    node_id: f.node.name,
    ipv4: address?.ipv4 ?? null,
    ipv6: address?.ipv6 ?? null,
    port: address?.port ?? null,
    models: (f.health?.models ?? []).map((m) => m.name),
    metadata: {
      herd_state: f.state,
      slots: f.node.slots,
      weight: f.node.weight,
      draining: f.node.draining === true,
      self_registered: f.node.selfRegistered === true,
      ollama_version: f.health?.version ?? null,
      hostname: address?.hostname ?? null,
      labels: f.node.labels,
    },
    // Herd measures no CPU or memory on its nodes, and keeps no load figures a node reports.
    load: { cpu: null, memory: null },
    last_seen: lastSeen(f),
    status: !f.health?.reachable ? 'offline' : f.failing ? 'degraded' : 'online',
    active_jobs: f.inFlight,
    failure_count: f.health?.failures ?? 0,
  };
}

/** Whether the node joined through POST /api/agents (its label holds the id its machine name gives). */
export function isAgentNode(node: NodeConfig): boolean {
  return node.labels?.[AGENT_LABELS.id] === agentIdFor(node.name);
}

export function coordinatorAgent(f: NodeFacts): CoordinatorAgent {
  const address = f.showAddress ? nodeAddress(f.node.url) : undefined;
  return {
    id: agentIdFor(f.node.name),
    machine_name: f.node.name,
    ip_address: address ? (address.ipv4 ?? address.ipv6) : null,
    ollama_version: f.health?.version ?? (f.node.labels[AGENT_LABELS.version] || null),
    ollama_port: address?.port ?? null,
    status: f.health?.reachable ? 'online' : 'offline',
    registered_at: f.node.labels[AGENT_LABELS.registeredAt] ?? null,
    last_seen: f.heartbeatAt ? new Date(f.heartbeatAt).toISOString() : null,
  };
}

/** The last time Herd heard from the node: its last heartbeat, or the last health poll it answered. */
function lastSeen(f: NodeFacts): string | null {
  const polled = f.health?.reachable ? f.health.checkedAt : 0;
  const at = Math.max(polled, f.heartbeatAt ?? 0);
  return at > 0 ? new Date(at).toISOString() : null;
}
