import type { NodeConfig } from '../config/herd-config';
import { normalizeModelName } from '../scheduler/model-name';
import type { FleetSnapshot, ModelRates, NodeSnapshot } from '../scheduler/scheduler.types';
import { rateKey } from './fleet.repository';
import type { NodeHealth } from './fleet.types';
import type { NodeLoad } from './ledger.repository';

/**
 * The scheduler's input for the given nodes: configuration and health as this replica last read them, learned
 * rates keyed by the normalised model name (as the scheduler looks them up), and live in-flight and backlog
 * from the lease ledger. Pure: the maps are read, never changed.
 */
export function fleetSnapshot(nodes: NodeConfig[], loads: Map<string, NodeLoad>, health: ReadonlyMap<string, NodeHealth>, learned: ReadonlyMap<string, ModelRates>): FleetSnapshot {
  return {
    nodes: nodes.map((n): NodeSnapshot => {
      const h = health.get(n.name);
      const load = loads.get(n.name) ?? { inFlight: 0, backlogTokens: 0 };
      const rates: NodeSnapshot['rates'] = {};
      for (const m of h?.models ?? []) {
        const key = normalizeModelName(m.name);
        const r = learned.get(rateKey(n.name, key));
        if (r) rates[key] = r;
      }
      return {
        name: n.name,
        slots: n.slots,
        inFlight: load.inFlight,
        weight: n.weight,
        healthy: h?.reachable === true,
        draining: n.draining === true,
        memoryGb: n.memoryGb,
        tokensPerSecondHint: n.tokensPerSecond,
        models: h?.models ?? [],
        resident: h?.resident ?? [],
        backlogTokens: load.backlogTokens,
        rates,
      };
    }),
  };
}
