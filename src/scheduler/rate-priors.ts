import { normalizeModelName } from './model-name';
import type { FleetSnapshot, ModelRates, NodeSnapshot } from './scheduler.types';

/**
 * Priors for a (node, model) pair nothing has been measured on. They are deliberately generous:
 * an untried node must look at least as good as the fleet's best so it gets work and is learned.
 * Each field switches to the node's own measurement as soon as one exists.
 */
export const DEFAULT_DECODE_TPS = 100;
export const DEFAULT_PREFILL_TPS = 1000;
export const DEFAULT_LOAD_MS = 2000;
export const DEFAULT_SLOWDOWN = 0.25;
export const MAX_SLOWDOWN = 2;

export type RateSource = 'measured' | 'hint' | 'fleet' | 'default';

/** The rates the estimator uses for one (node, model), with where the decode rate came from. */
export interface ResolvedRates {
  decodeTps: number;
  prefillTps: number;
  loadMs: number;
  slowdown: number;
  decodeSource: RateSource;
}

/** The fleet's best measurements of one model: the optimistic prior for nodes that have none. */
export interface FleetPriors {
  decodeTps?: number;
  prefillTps?: number;
  loadMs?: number;
}

function isPositive(x: number | undefined): x is number {
  return x !== undefined && Number.isFinite(x) && x > 0;
}

function isNonNegative(x: number | undefined): x is number {
  return x !== undefined && Number.isFinite(x) && x >= 0;
}

export function clampSlowdown(k: number): number {
  if (!Number.isFinite(k)) return DEFAULT_SLOWDOWN;
  return Math.min(MAX_SLOWDOWN, Math.max(0, k));
}

/** The node's learned rates for `model`, whatever form of the name they were stored under. */
export function ratesFor(node: NodeSnapshot, model: string): ModelRates | undefined {
  const wanted = normalizeModelName(model);
  const direct = node.rates[wanted];
  if (direct) return direct;
  const key = Object.keys(node.rates).find((k) => normalizeModelName(k) === wanted);
  return key === undefined ? undefined : node.rates[key];
}

function measured(rates: ModelRates | undefined): ModelRates | undefined {
  return rates && rates.samples > 0 ? rates : undefined;
}

export function fleetPriors(fleet: FleetSnapshot, model: string): FleetPriors {
  const priors: FleetPriors = {};
  for (const node of fleet.nodes) {
    const r = measured(ratesFor(node, model));
    if (!r) continue;
    if (isPositive(r.decodeTps)) priors.decodeTps = Math.max(priors.decodeTps ?? 0, r.decodeTps);
    if (isPositive(r.prefillTps)) priors.prefillTps = Math.max(priors.prefillTps ?? 0, r.prefillTps);
    if (isNonNegative(r.loadMs)) priors.loadMs = Math.min(priors.loadMs ?? Infinity, r.loadMs);
  }
  return priors;
}

/**
 * Per field: the node's own measurement, else a prior. Decode prior order: the node's configured
 * tokensPerSecond hint, else the fleet's best measured rate for this model, else DEFAULT_DECODE_TPS.
 * Prefill and load priors: the fleet's best (fastest prefill, shortest load), else the defaults.
 * Slowdown is a property of the node's hardware, so there is no fleet prior for it.
 */
export function resolveRates(node: NodeSnapshot, model: string, priors: FleetPriors): ResolvedRates {
  const own = measured(ratesFor(node, model));
  let decodeTps: number;
  let decodeSource: RateSource;
  if (isPositive(own?.decodeTps)) {
    decodeTps = own.decodeTps;
    decodeSource = 'measured';
  } else if (isPositive(node.tokensPerSecondHint)) {
    decodeTps = node.tokensPerSecondHint;
    decodeSource = 'hint';
  } else if (isPositive(priors.decodeTps)) {
    decodeTps = priors.decodeTps;
    decodeSource = 'fleet';
  } else {
    decodeTps = DEFAULT_DECODE_TPS;
    decodeSource = 'default';
  }
  return {
    decodeTps,
    decodeSource,
    prefillTps: isPositive(own?.prefillTps) ? own.prefillTps : (priors.prefillTps ?? DEFAULT_PREFILL_TPS),
    loadMs: isNonNegative(own?.loadMs) ? own.loadMs : (priors.loadMs ?? DEFAULT_LOAD_MS),
    slowdown: own?.slowdown !== undefined ? clampSlowdown(own.slowdown) : DEFAULT_SLOWDOWN,
  };
}
