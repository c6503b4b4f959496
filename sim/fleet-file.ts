import { readFileSync } from 'node:fs';
import { validateNodeOptions } from './node-options';
import type { SimFleetConfig, SimNodeOptions } from './types';

/**
 * Fleet files are JSON: { "timeScale"?: number, "nodes": [SimNodeOptions, ...] }.
 * A model may be written as a bare string ("llama3") instead of { "name": "llama3" }.
 * Keys starting with "_" or "$", and "description", are comments and ignored.
 */

function isComment(key: string): boolean {
  return key.startsWith('_') || key.startsWith('$') || key === 'description';
}

function stripComments(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (!isComment(key)) out[key] = v;
  return out;
}

function normaliseNode(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const node = stripComments(raw as Record<string, unknown>);
  if (Array.isArray(node.models)) {
    node.models = node.models.map((m: unknown) =>
      typeof m === 'string' ? { name: m } : m !== null && typeof m === 'object' && !Array.isArray(m) ? stripComments(m as Record<string, unknown>) : m,
    );
  }
  return node;
}

/** Every problem with a fleet configuration; empty when it is valid. */
export function validateFleetConfig(value: unknown): { config?: SimFleetConfig; problems: string[] } {
  const problems: string[] = [];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { problems: ['the file must hold a JSON object with a "nodes" array'] };
  }
  const top = stripComments(value as Record<string, unknown>);
  for (const key of Object.keys(top)) {
    if (key !== 'nodes' && key !== 'timeScale') problems.push(`unknown top-level key "${key}"`);
  }
  if (top.timeScale !== undefined && (typeof top.timeScale !== 'number' || !Number.isFinite(top.timeScale) || top.timeScale < 0)) {
    problems.push(`timeScale: must be a number >= 0 (got ${JSON.stringify(top.timeScale)})`);
  }
  if (!Array.isArray(top.nodes) || top.nodes.length === 0) {
    problems.push('nodes: must be a non-empty array');
    return { problems };
  }
  const nodes = top.nodes.map(normaliseNode);
  const names = new Map<string, number>();
  const ports = new Map<number, number>();
  nodes.forEach((node, i) => {
    problems.push(...validateNodeOptions(node, `nodes[${i}]`));
    if (node === null || typeof node !== 'object') return;
    const { name, port } = node as { name?: unknown; port?: unknown };
    if (typeof name === 'string') {
      const seen = names.get(name);
      if (seen !== undefined) problems.push(`nodes[${i}].name: "${name}" is also the name of nodes[${seen}]`);
      else names.set(name, i);
    }
    if (typeof port === 'number' && port !== 0) {
      const seen = ports.get(port);
      if (seen !== undefined) problems.push(`nodes[${i}].port: ${port} is also the port of nodes[${seen}]`);
      else ports.set(port, i);
    }
  });
  if (problems.length > 0) return { problems };
  const config: SimFleetConfig = { nodes: nodes as SimNodeOptions[] };
  if (typeof top.timeScale === 'number') config.timeScale = top.timeScale;
  return { config, problems };
}

/** Reads and validates a fleet file; throws one Error listing every problem found. */
export function loadFleetFile(path: string): SimFleetConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`Cannot read fleet file ${path}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`Fleet file ${path} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const { config, problems } = validateFleetConfig(json);
  if (!config) throw new Error(`Invalid fleet file ${path}:\n  - ${problems.join('\n  - ')}`);
  return config;
}
