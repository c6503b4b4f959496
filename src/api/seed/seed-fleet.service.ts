import { Injectable } from '@nestjs/common';
import { HerdError } from '../../common/herd-error';
import type { NodeConfig } from '../../config/herd-config';
import { parseNodes } from '../../config/load-config';
import { circuitView } from '../../fleet/circuit-breaker';
import { FleetAdminService } from '../../fleet/fleet-admin.service';
import { FleetRegistry } from '../../fleet/fleet-registry';
import { FleetRepository } from '../../fleet/fleet.repository';
import { LedgerRepository } from '../../fleet/ledger.repository';
import { agentIdFor } from './agent-id';
import { AGENT_LABELS, connectorNode, coordinatorAgent, isAgentNode, type ConnectorNode, type CoordinatorAgent, type NodeFacts } from './fleet-shapes';
import type { AgentHealthDto, RegisterAgentDto } from './seed.dto';

/**
 * Herd's fleet in the shapes of Ollama Connector (nodes) and Ollama Coordinator (agents), and Coordinator's
 * registration and health reports as Herd's own node heartbeat (FleetAdminService.heartbeat: same URL checks).
 */
@Injectable()
export class SeedFleetService {
  constructor(
    private readonly fleet: FleetRegistry,
    private readonly admin: FleetAdminService,
    private readonly repo: FleetRepository,
    private readonly ledger: LedgerRepository,
  ) {}

  async connectorNodes(showAddress: boolean): Promise<ConnectorNode[]> {
    return (await this.facts(this.fleet.nodes(), showAddress)).map(connectorNode);
  }

  async connectorNode(id: string, showAddress: boolean): Promise<ConnectorNode> {
    const node = this.fleet.node(id);
    if (!node) throw new HerdError(404, 'HERD_NOT_FOUND', `herd: no node with id "${id}"`);
    return connectorNode((await this.facts([node], showAddress))[0]);
  }

  async agents(showAddress: boolean): Promise<CoordinatorAgent[]> {
    return (await this.facts(this.fleet.nodes().filter(isAgentNode), showAddress)).map(coordinatorAgent);
  }

  /**
   * The agent's Ollama joins as a self-registered node named after the machine. Registering again keeps the id
   * and registration time, and whatever an operator changed on the node since (slots, weight).
   */
  async register(dto: RegisterAgentDto): Promise<{ agent_id: string; status: 'registered' }> {
    const agentId = agentIdFor(dto.machine_name);
    const known = this.fleet.node(dto.machine_name);
    if (known && !known.selfRegistered) {
      throw new HerdError(409, 'HERD_CONFLICT', `herd: node "${dto.machine_name}" was added by an operator; an agent cannot register under its name`);
    }
    const labels = known && isAgentNode(known) ? known.labels : { [AGENT_LABELS.id]: agentId, [AGENT_LABELS.version]: dto.ollama_version ?? '', [AGENT_LABELS.registeredAt]: new Date().toISOString() };
    const host = dto.ip_address.includes(':') ? `[${dto.ip_address}]` : dto.ip_address;
    const kept = known ? { slots: known.slots, weight: known.weight, memoryGb: known.memoryGb, tokensPerSecond: known.tokensPerSecond, promptCacheEntries: known.promptCacheEntries } : {};
    const entry = Object.fromEntries(Object.entries({ ...kept, name: dto.machine_name, url: `http://${host}:${dto.ollama_port}`, labels }).filter(([, v]) => v !== undefined));
    const { nodes, problems } = parseNodes([entry], 'agent');
    if (problems.length) throw HerdError.badRequest(problems.join('; '));
    await this.admin.heartbeat(nodes[0]);
    return { agent_id: agentId, status: 'registered' };
  }

  /** A health report is the agent's heartbeat; its load figures are accepted and not kept (Herd measures its own). */
  async report(dto: AgentHealthDto): Promise<{ status: 'ok' }> {
    const node = this.fleet.nodes().find((n) => isAgentNode(n) && agentIdFor(n.name) === dto.agent_id.toLowerCase());
    if (!node) throw new HerdError(404, 'HERD_NOT_FOUND', `herd: no agent with id "${dto.agent_id}" (register it with POST /api/agents)`);
    await this.admin.heartbeat(node);
    return { status: 'ok' };
  }

  private async facts(nodes: NodeConfig[], showAddress: boolean): Promise<NodeFacts[]> {
    const [loads, beats] = await Promise.all([this.ledger.loads(nodes.map((n) => n.name)), this.repo.heartbeats()]);
    const now = Date.now();
    return nodes.map((node) => ({
      node,
      health: this.fleet.health(node.name),
      state: this.fleet.nodeState(node.name),
      failing: circuitView(this.fleet.circuit(node.name), now) !== 'closed',
      inFlight: loads.get(node.name)?.inFlight ?? 0,
      heartbeatAt: beats.get(node.name),
      showAddress,
    }));
  }
}
