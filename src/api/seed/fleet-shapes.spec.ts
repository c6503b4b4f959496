import type { NodeHealth } from '../../fleet/fleet.types';
import { agentIdFor } from './agent-id';
import { AGENT_LABELS, connectorNode, coordinatorAgent, isAgentNode, type NodeFacts } from './fleet-shapes';

const health = (over: Partial<NodeHealth> = {}): NodeHealth => ({ reachable: true, models: [{ name: 'llama3:latest' }], resident: [], failures: 0, checkedAt: Date.UTC(2025, 0, 1), version: '0.12.6', ...over });

function facts(over: Partial<NodeFacts> = {}): NodeFacts {
  return { node: { name: 'gpu-1', url: 'http://192.0.2.5:11434', slots: 2, weight: 1, labels: {} }, health: health(), state: 'healthy', failing: false, inFlight: 1, heartbeatAt: undefined, showAddress: true, ...over };
}

describe('connectorNode', () => {
  it.each([
    ['reachable, breaker closed', {}, 'online'],
    ['breaker open or probing', { failing: true }, 'degraded'],
    ['unreachable', { health: health({ reachable: false }) }, 'offline'],
    ['never polled', { health: undefined }, 'offline'],
  ] as [string, Partial<NodeFacts>, string][])('%s → %s', (_name, over, status) => {
    expect(connectorNode(facts(over)).status).toBe(status);
  });

  it('maps Herd’s facts onto Connector’s fields', () => {
    expect(connectorNode(facts({ heartbeatAt: Date.UTC(2025, 0, 2) }))).toEqual({
      node_id: 'gpu-1',
      ipv4: '192.0.2.5',
      ipv6: null,
      port: 11434,
      models: ['llama3:latest'],
      metadata: { herd_state: 'healthy', slots: 2, weight: 1, draining: false, self_registered: false, ollama_version: '0.12.6', hostname: null, labels: {} },
      load: { cpu: null, memory: null },
      last_seen: '2025-01-02T00:00:00.000Z',
      status: 'online',
      active_jobs: 1,
      failure_count: 0,
    });
  });

  it('leaves addresses out of the public view', () => {
    expect(connectorNode(facts({ showAddress: false }))).toMatchObject({ ipv4: null, ipv6: null, port: null, metadata: { hostname: null } });
  });
});

describe('coordinatorAgent', () => {
  const labels = { [AGENT_LABELS.id]: agentIdFor('studio'), [AGENT_LABELS.version]: '0.5.0', [AGENT_LABELS.registeredAt]: '2025-01-01T00:00:00.000Z' };
  const node = { name: 'studio', url: 'http://[fd00::7]:11434', slots: 1, weight: 1, labels, selfRegistered: true };

  it('is recognised by its label and shows its IPv6 address', () => {
    expect(isAgentNode(node)).toBe(true);
    expect(isAgentNode({ ...node, name: 'other' })).toBe(false);
    expect(coordinatorAgent(facts({ node, health: undefined, heartbeatAt: Date.UTC(2025, 0, 3) }))).toEqual({
      id: agentIdFor('studio'),
      machine_name: 'studio',
      ip_address: 'fd00::7',
      ollama_version: '0.5.0',
      ollama_port: 11434,
      status: 'offline',
      registered_at: '2025-01-01T00:00:00.000Z',
      last_seen: '2025-01-03T00:00:00.000Z',
    });
  });
});
