import { exponential, fnv1a, mulberry32, normal } from './prng';

/** How many tokens a node answers with; the bench passes the simulator's own rule. */
export type OutputLengthOf = (model: string, prompt: string, numPredict?: number) => number;

export interface TraceModel {
  name: string;
  /** Relative share of the requests; shares need not add up to 1. */
  share: number;
}

export interface TraceOptions {
  seed: number;
  count: number;
  /** Output tokens per second the whole fleet produces with every slot busy. */
  fleetCapacityTokensPerSec: number;
  /** Output tokens asked for per second over the capacity. Prompt tokens are not counted. Default 0.75. */
  load?: number;
  models: TraceModel[];
  /** Share of requests that set num_predict. Default 0.1. */
  numPredictShare?: number;
  numPredictChoices?: number[];
  outputLengthOf?: OutputLengthOf;
}

export interface TraceRequest {
  id: string;
  atMs: number;
  model: string;
  prompt: string;
  numPredict?: number;
  outputTokens: number;
}

export const DEFAULT_NUM_PREDICT_CHOICES = [16, 32, 64, 128, 256, 512];
const PROMPT_WORDS_MEDIAN = 40;
const PROMPT_WORDS_SIGMA = 0.8;
const PROMPT_WORDS_MAX = 1500;
const VOCABULARY = (
  'the a model node fleet token prompt answer explain why how what write summary story code function list ' +
  'describe compare short long detail example reason plan test data cluster queue speed latency memory ' +
  'request stream result error number table question simple clear step review translate poem email report'
).split(' ');

/** A log-normal length (median 100, sigma 0.9, at most 1024) hashed from model and prompt; num_predict is exact. */
export const defaultOutputLengthOf: OutputLengthOf = (model, prompt, numPredict) => {
  if (numPredict !== undefined && numPredict >= 0) return Math.floor(numPredict);
  const rng = mulberry32(fnv1a(`${model}\n${prompt}`));
  return Math.min(1024, Math.max(1, Math.round(Math.exp(Math.log(100) + 0.9 * normal(rng)))));
};

function pickModel(models: TraceModel[], u: number): string {
  const total = models.reduce((s, m) => s + m.share, 0);
  let acc = 0;
  for (const m of models) {
    acc += m.share / total;
    if (u < acc) return m.name;
  }
  return models[models.length - 1].name;
}

function makePrompt(rng: () => number): string {
  const words = Math.min(PROMPT_WORDS_MAX, Math.max(3, Math.round(Math.exp(Math.log(PROMPT_WORDS_MEDIAN) + PROMPT_WORDS_SIGMA * normal(rng)))));
  return Array.from({ length: words }, () => VOCABULARY[Math.floor(rng() * VOCABULARY.length)]).join(' ');
}

function validate(o: TraceOptions): void {
  const problems: string[] = [];
  if (!Number.isInteger(o.count) || o.count < 1) problems.push(`count must be a positive integer, got ${o.count}`);
  if (!(o.fleetCapacityTokensPerSec > 0)) problems.push(`fleetCapacityTokensPerSec must be > 0, got ${o.fleetCapacityTokensPerSec}`);
  if (o.load !== undefined && !(o.load > 0)) problems.push(`load must be > 0, got ${o.load}`);
  if (o.models.length === 0 || !o.models.every((m) => m.share >= 0) || !o.models.some((m) => m.share > 0)) {
    problems.push('models must be non-empty with shares >= 0, at least one > 0');
  }
  if (problems.length) throw new Error(`makeTrace: ${problems.join('; ')}`);
}

/**
 * A seeded request trace. Arrivals are a Poisson process conditioned on its count-th arrival falling
 * exactly at the end of the window whose length makes the offered load `load`: exponential gaps,
 * rescaled so they sum to total output tokens / (load * capacity). Request content and arrival times
 * come from separate streams, so the same seed gives the same requests at any load.
 */
export function makeTrace(options: TraceOptions): TraceRequest[] {
  validate(options);
  const load = options.load ?? 0.75;
  const numPredictShare = options.numPredictShare ?? 0.1;
  const choices = options.numPredictChoices ?? DEFAULT_NUM_PREDICT_CHOICES;
  const outputLengthOf = options.outputLengthOf ?? defaultOutputLengthOf;
  const content = mulberry32(options.seed);
  const arrivals = mulberry32(options.seed ^ 0x9e3779b9);

  const requests = Array.from({ length: options.count }, (_, i) => {
    const model = pickModel(options.models, content());
    const prompt = makePrompt(content);
    const numPredict = content() < numPredictShare ? choices[Math.floor(content() * choices.length)] : undefined;
    const outputTokens = outputLengthOf(model, prompt, numPredict);
    return { id: `req-${i}`, model, prompt, numPredict, outputTokens };
  });

  const totalOutput = requests.reduce((s, r) => s + r.outputTokens, 0);
  const windowMs = (totalOutput / (load * options.fleetCapacityTokensPerSec)) * 1000;
  const gaps = requests.map(() => exponential(arrivals, 1));
  const gapSum = gaps.reduce((s, g) => s + g, 0);
  let at = 0;
  return requests.map(({ id, model, prompt, numPredict, outputTokens }, i) => {
    at += gaps[i];
    const atMs = (at / gapSum) * windowMs;
    return { id, atMs, model, prompt, ...(numPredict === undefined ? {} : { numPredict }), outputTokens };
  });
}

/** Output tokens asked for per second over the trace's span, as a share of `capacityTokensPerSec`. */
export function traceLoad(trace: TraceRequest[], capacityTokensPerSec: number): number {
  if (trace.length === 0) return 0;
  const spanMs = trace[trace.length - 1].atMs;
  const total = trace.reduce((s, r) => s + r.outputTokens, 0);
  return total / ((spanMs / 1000) * capacityTokensPerSec);
}
