import { startSimNode } from './sim-node';
import type { SimFleet, SimFleetConfig, SimNode } from './types';

/** Starts every node of a fleet (in parallel). A fleet-level timeScale applies to nodes that set none. */
export async function startSimFleet(cfg: SimFleetConfig): Promise<SimFleet> {
  const settled = await Promise.allSettled(
    cfg.nodes.map((node) => startSimNode({ ...node, timeScale: node.timeScale ?? cfg.timeScale })),
  );
  const nodes: SimNode[] = [];
  const failures: string[] = [];
  settled.forEach((result, i) => {
    if (result.status === 'fulfilled') nodes.push(result.value);
    else failures.push(`${cfg.nodes[i]?.name ?? `nodes[${i}]`}: ${result.reason instanceof Error ? result.reason.message : String(result.reason)}`);
  });
  if (failures.length > 0) {
    await Promise.all(nodes.map((n) => n.close()));
    throw new Error(`Could not start the simulator fleet:\n  - ${failures.join('\n  - ')}`);
  }
  return {
    nodes,
    close: async () => {
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
}
