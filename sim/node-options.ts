import { normaliseModelName } from './model-names';
import type { SimModel, SimNodeOptions } from './types';

export interface ResolvedNodeOptions {
  name: string;
  host: string;
  port: number;
  models: SimModel[];
  resident: string[];
  slots: number;
  maxQueue: number;
  prefillTps: number;
  decodeTps: number;
  parallelSlowdown: number;
  loadMs: number;
  maxLoadedModels: number;
  timeScale: number;
  version: string;
  maxOutputTokens: number;
  caseSensitiveNames: boolean;
  promptCacheEntries: number;
  promptCacheRestoreTps: number;
  multiUserCache: boolean;
  reportCachedTokens: boolean;
}

export const NODE_DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  slots: 1,
  maxQueue: 512,
  prefillTps: 1000,
  decodeTps: 30,
  parallelSlowdown: 0.3,
  loadMs: 2000,
  maxLoadedModels: 3,
  timeScale: 1,
  version: '0.12.6',
  maxOutputTokens: 1024,
  caseSensitiveNames: false,
  promptCacheEntries: 0,
  promptCacheRestoreTps: 50_000,
  multiUserCache: false,
  reportCachedTokens: false,
} as const;

type Check = (value: unknown) => string | null;

const integerAtLeast =
  (min: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min ? null : `must be an integer >= ${min}`;
const numberAbove =
  (min: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isFinite(v) && v > min ? null : `must be a number > ${min}`;
const numberAtLeast =
  (min: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isFinite(v) && v >= min ? null : `must be a number >= ${min}`;
const aString: Check = (v) => (typeof v === 'string' ? null : 'must be a string');
const aBoolean: Check = (v) => (typeof v === 'boolean' ? null : 'must be true or false');
const aPort: Check = (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535 ? null : 'must be an integer from 0 to 65535';

const NODE_CHECKS: Record<string, Check> = {
  host: aString,
  port: aPort,
  slots: integerAtLeast(1),
  maxQueue: integerAtLeast(0),
  prefillTps: numberAbove(0),
  decodeTps: numberAbove(0),
  parallelSlowdown: numberAtLeast(0),
  loadMs: numberAtLeast(0),
  maxLoadedModels: integerAtLeast(1),
  timeScale: numberAtLeast(0),
  version: aString,
  maxOutputTokens: integerAtLeast(1),
  caseSensitiveNames: aBoolean,
  promptCacheEntries: integerAtLeast(0),
  promptCacheRestoreTps: numberAbove(0),
  multiUserCache: aBoolean,
  reportCachedTokens: aBoolean,
};

const MODEL_CHECKS: Record<string, Check> = {
  sizeBytes: numberAbove(0),
  family: aString,
  parameterSize: aString,
  quantization: aString,
  embeddingDims: integerAtLeast(1),
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Every problem with one node's options, each prefixed by `where` (e.g. 'nodes[1]'). Empty when valid. */
export function validateNodeOptions(value: unknown, where: string): string[] {
  const problems: string[] = [];
  if (!isRecord(value)) return [`${where}: must be an object`];
  if (typeof value.name !== 'string' || value.name.trim() === '') problems.push(`${where}.name: must be a non-empty string`);
  for (const key of Object.keys(value)) {
    if (key === 'name' || key === 'models' || key === 'resident') continue;
    const check = NODE_CHECKS[key];
    if (!check) {
      problems.push(`${where}: unknown option "${key}"`);
      continue;
    }
    if (value[key] === undefined) continue;
    const problem = check(value[key]);
    if (problem) problems.push(`${where}.${key}: ${problem} (got ${JSON.stringify(value[key])})`);
  }
  const modelNames = new Set<string>();
  if (!Array.isArray(value.models)) {
    problems.push(`${where}.models: must be an array of models`);
  } else {
    value.models.forEach((model: unknown, i: number) => {
      const at = `${where}.models[${i}]`;
      if (!isRecord(model)) {
        problems.push(`${at}: must be an object with a name`);
        return;
      }
      if (typeof model.name !== 'string' || model.name.trim() === '') {
        problems.push(`${at}.name: must be a non-empty string`);
        return;
      }
      const normalised = normaliseModelName(model.name).toLowerCase();
      if (modelNames.has(normalised)) problems.push(`${at}.name: duplicate model "${model.name}"`);
      modelNames.add(normalised);
      for (const key of Object.keys(model)) {
        if (key === 'name') continue;
        const check = MODEL_CHECKS[key];
        if (!check) {
          problems.push(`${at}: unknown field "${key}"`);
          continue;
        }
        if (model[key] === undefined) continue;
        const problem = check(model[key]);
        if (problem) problems.push(`${at}.${key}: ${problem} (got ${JSON.stringify(model[key])})`);
      }
    });
  }
  if (value.resident !== undefined) {
    if (!Array.isArray(value.resident)) {
      problems.push(`${where}.resident: must be an array of model names`);
    } else {
      value.resident.forEach((name: unknown, i: number) => {
        if (typeof name !== 'string') problems.push(`${where}.resident[${i}]: must be a string`);
        else if (Array.isArray(value.models) && !modelNames.has(normaliseModelName(name).toLowerCase())) {
          problems.push(`${where}.resident[${i}]: "${name}" is not one of the node's models`);
        }
      });
    }
  }
  return problems;
}

export function resolveNodeOptions(opts: SimNodeOptions): ResolvedNodeOptions {
  const problems = validateNodeOptions(opts, 'options');
  if (problems.length > 0) {
    throw new Error(`Invalid simulator node options${opts?.name ? ` for "${opts.name}"` : ''}:\n  - ${problems.join('\n  - ')}`);
  }
  return {
    name: opts.name,
    host: opts.host ?? NODE_DEFAULTS.host,
    port: opts.port ?? NODE_DEFAULTS.port,
    models: opts.models.map((m) => ({ ...m, name: normaliseModelName(m.name) })),
    resident: (opts.resident ?? []).map(normaliseModelName),
    slots: opts.slots ?? NODE_DEFAULTS.slots,
    maxQueue: opts.maxQueue ?? NODE_DEFAULTS.maxQueue,
    prefillTps: opts.prefillTps ?? NODE_DEFAULTS.prefillTps,
    decodeTps: opts.decodeTps ?? NODE_DEFAULTS.decodeTps,
    parallelSlowdown: opts.parallelSlowdown ?? NODE_DEFAULTS.parallelSlowdown,
    loadMs: opts.loadMs ?? NODE_DEFAULTS.loadMs,
    maxLoadedModels: opts.maxLoadedModels ?? NODE_DEFAULTS.maxLoadedModels,
    timeScale: opts.timeScale ?? NODE_DEFAULTS.timeScale,
    version: opts.version ?? NODE_DEFAULTS.version,
    maxOutputTokens: opts.maxOutputTokens ?? NODE_DEFAULTS.maxOutputTokens,
    caseSensitiveNames: opts.caseSensitiveNames ?? NODE_DEFAULTS.caseSensitiveNames,
    promptCacheEntries: opts.promptCacheEntries ?? NODE_DEFAULTS.promptCacheEntries,
    promptCacheRestoreTps: opts.promptCacheRestoreTps ?? NODE_DEFAULTS.promptCacheRestoreTps,
    multiUserCache: opts.multiUserCache ?? NODE_DEFAULTS.multiUserCache,
    reportCachedTokens: opts.reportCachedTokens ?? NODE_DEFAULTS.reportCachedTokens,
  };
}
