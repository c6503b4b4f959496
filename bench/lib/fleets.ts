import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadFleetFile } from '../../sim/fleet-file';
import { normaliseModelName } from '../../sim/model-names';
import { resolveNodeOptions } from '../../sim/node-options';
import { resolveOutputLength } from '../../sim/output-length';
import { countTokens } from '../../sim/token-text';
import type { SimFleetConfig } from '../../sim/types';
import type { ClairvoyantNode } from './clairvoyant';
import type { OutputLengthOf } from './trace';

/** One simulated node with every speed setting resolved (the fleet file's value, else the simulator's default). */
export interface BenchNode extends ClairvoyantNode {
  maxOutputTokens: number;
}

/** Finds sim/fleets/<name>.json from the source tree or from dist/ (the build does not copy JSON files). */
export function fleetFilePath(name: string, from = __dirname): string {
  const candidates = [resolve(from, '../../sim/fleets', `${name}.json`), resolve(from, '../../../sim/fleets', `${name}.json`)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`fleet file ${name}.json not found; looked at ${candidates.join(', ')}`);
  return found;
}

/** The bench's view of a fleet file, with the simulator's own defaults filled in (one resolver for both). */
export function benchNodes(config: SimFleetConfig): BenchNode[] {
  return config.nodes.map((raw) => {
    const n = resolveNodeOptions(raw);
    return {
      name: n.name,
      slots: n.slots,
      decodeTps: n.decodeTps,
      prefillTps: n.prefillTps,
      slowdown: n.parallelSlowdown,
      loadMs: n.loadMs,
      maxOutputTokens: n.maxOutputTokens,
      models: n.models.map((m) => m.name),
      resident: n.resident,
    };
  });
}

export function loadBenchFleet(name: string): { nodes: BenchNode[]; config: SimFleetConfig } {
  const config = loadFleetFile(fleetFilePath(name));
  return { config, nodes: benchNodes(config) };
}

/** Output tokens per second of the whole fleet with every slot busy (slowdown included). */
export function fleetCapacity(nodes: BenchNode[]): number {
  return nodes.reduce((sum, n) => sum + (n.slots * n.decodeTps) / (1 + n.slowdown * (n.slots - 1)), 0);
}

/** Every model some node has, in first-seen order. */
export function fleetModels(nodes: BenchNode[]): string[] {
  return [...new Set(nodes.flatMap((n) => n.models))];
}

export function toClairvoyantNodes(nodes: BenchNode[]): ClairvoyantNode[] {
  return nodes.map(({ maxOutputTokens: _unused, ...clairvoyant }) => clairvoyant);
}

/**
 * The simulator's own output-length rule for a /api/generate request without a system prompt
 * (routes-inference.ts keys the draw on "model\nsystem\nprompt"). Every node of a bench fleet must
 * share one maxOutputTokens for this to hold; benchOutputLength checks it.
 */
export function simGenerateOutputLength(maxOutputTokens: number): OutputLengthOf {
  return (model, prompt, numPredict) => resolveOutputLength(numPredict, `${normaliseModelName(model)}\n\n${prompt}`, maxOutputTokens).tokens;
}

export function benchOutputLength(nodes: BenchNode[]): OutputLengthOf {
  const caps = new Set(nodes.map((n) => n.maxOutputTokens));
  if (caps.size !== 1) throw new Error(`bench fleets need one maxOutputTokens for every node, got ${[...caps].join(', ')}`);
  return simGenerateOutputLength([...caps][0]);
}

/** Prompt tokens as the simulator counts them for /api/generate (system + prompt, at least 1). */
export function simPromptTokens(prompt: string): number {
  return Math.max(1, countTokens(prompt));
}

/** What an operator would write for weighted round-robin: weights proportional to each node's capacity, smallest 1. */
export function benchWeights(nodes: BenchNode[]): number[] {
  const capacity = nodes.map((n) => (n.slots * n.decodeTps) / (1 + n.slowdown * (n.slots - 1)));
  const smallest = Math.min(...capacity);
  return capacity.map((c) => Math.max(1, Math.round(c / smallest)));
}

/** Herd's containers.config for the fleet: slots and benchWeights. No speed hints: ECT learns the rates from nothing. */
export function herdNodeConfigs(nodes: BenchNode[], urls: string[]): { name: string; url: string; slots: number; weight: number }[] {
  const weights = benchWeights(nodes);
  return nodes.map((n, i) => ({ name: n.name, url: urls[i], slots: n.slots, weight: weights[i] }));
}
