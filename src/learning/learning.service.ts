import { Injectable } from '@nestjs/common';
import type { ModelRates, RequestEstimate } from '../scheduler/scheduler.types';
import {
  estimatePromptTokens,
  ewma,
  expectedOutputTokens,
  foldObservation,
  learnPromptCorrection,
  observationFromFinalChunk,
  normalizeModelName,
  type FinalChunkTimings,
} from '../scheduler';
import { Logger } from '../common/logger';
import { BreakerService } from '../fleet/breaker.service';
import { FleetRegistry } from '../fleet/fleet-registry';
import { rateKey, FleetRepository } from '../fleet/fleet.repository';
import { NodeHealthService } from '../fleet/node-health.service';
import type { Attempt } from '../relay/attempt';
import { type ModelStats, ModelStatsRepository } from './model-stats.repository';

/** Learned values are written to Redis at most this often, in one go. */
const FLUSH_MS = 250;
/** Other replicas' learning is read back this often. */
const REFRESH_MS = 2000;

/**
 * The last step of a request: what its answer teaches. Ollama's timing fields become learned rates (per node and
 * model) and per-model stats, kept in Redis so every replica estimates from the same facts; the node's breaker
 * hears that it answered, and its residency that the model is loaded now. Reads come from memory (rates with
 * the fleet, stats every REFRESH_MS); writes go to Redis in batches.
 */
@Injectable()
export class LearningService {
  private stats = new Map<string, ModelStats>();
  /** Learned values not yet written to Redis; flushed in one pipeline every FLUSH_MS. */
  private dirtyRates = new Map<string, { node: string; model: string; rates: ModelRates }>();
  private dirtyStats = new Set<string>();
  private flushTimer?: NodeJS.Timeout;
  private refreshTimer?: NodeJS.Timeout;

  constructor(
    private readonly statsRepo: ModelStatsRepository,
    private readonly fleetRepo: FleetRepository,
    private readonly fleet: FleetRegistry,
    private readonly breakers: BreakerService,
    private readonly nodeHealth: NodeHealthService,
    private readonly log: Logger,
  ) {}

  /** Reads what every replica learned so far, and again every REFRESH_MS. */
  async start(): Promise<void> {
    await this.refresh();
    this.refreshTimer = setInterval(() => void this.refresh().catch(() => undefined), REFRESH_MS);
    this.refreshTimer.unref();
  }

  /** Stops reading and writes what was learned here and not yet stored. */
  async stop(): Promise<void> {
    clearInterval(this.refreshTimer);
    await this.flush();
  }

  async refresh(): Promise<void> {
    this.stats = await this.statsRepo.load();
  }

  /**
   * What an answer teaches, recorded without holding up the client: the node answered (its breaker closes), a
   * 200 means the model is loaded there now, and the final chunk's timings fold into the rates.
   */
  fromAnswer(attempt: Attempt, status: number, model: string, numPredict: number | undefined): void {
    const node = attempt.node.name;
    void this.breakers.reportSuccess(node).catch(() => undefined);
    if (status === 200) void this.nodeHealth.markResident(node, model).catch(() => undefined);
    const cached = attempt.grant.parts.cachedTokens;
    if (attempt.final) void this.learnQuietly(node, cached ? { ...attempt.estimate, cachedTokens: { [node]: cached } } : attempt.estimate, attempt.final, attempt.grant.streams, numPredict);
  }

  private async learnQuietly(node: string, estimate: RequestEstimate, chunk: FinalChunkTimings, streamsAtStart: number, numPredict: number | undefined): Promise<void> {
    try {
      await this.learn(node, estimate, chunk, streamsAtStart, numPredict);
    } catch (err) {
      this.log.debug('learning skipped', { error: (err as Error).message });
    }
  }

  /** Estimated prompt tokens of `text` for `model` (its learned correction applied). */
  promptTokens(model: string, text: string): number {
    return estimatePromptTokens(text, this.stats.get(normalizeModelName(model))?.promptCorrection);
  }

  /** `model` is the normalised name (the key stats and rates are kept under). */
  estimate(model: string, promptText: string, numPredict: number | undefined): RequestEstimate {
    const s = this.stats.get(normalizeModelName(model));
    const outputTokens = expectedOutputTokens(numPredict, s?.meanOutputTokens);
    return {
      model,
      promptTokens: estimatePromptTokens(promptText, s?.promptCorrection),
      outputTokens,
      outputTokensKnown: numPredict !== undefined,
    };
  }

  /** Folds one final chunk into the shared averages. Called after the client has its answer. */
  async learn(node: string, estimate: RequestEstimate, chunk: FinalChunkTimings, streamsAtStart: number, numPredict: number | undefined): Promise<void> {
    const model = normalizeModelName(estimate.model);
    const rates = foldObservation(this.fleet.rates(node, model), observationFromFinalChunk(chunk, streamsAtStart, estimate.cachedTokens?.[node] ?? 0));
    this.fleet.setRates(node, model, rates);
    const prev = this.stats.get(model) ?? {};
    const next: ModelStats = { ...prev };
    // Output length is learned only from answers that ended on their own: a num_predict cap says nothing about it.
    if (numPredict === undefined && typeof chunk.eval_count === 'number') {
      next.meanOutputTokens = ewma(prev.meanOutputTokens, chunk.eval_count, 0.2);
    }
    // Ollama counts cached prompt tokens in prompt_eval_count, so the size lesson holds on a cache hit too; only
    // versions that counted just the evaluated part (before mid-2024) report far less, and that is not learned.
    if (typeof chunk.prompt_eval_count === 'number' && chunk.prompt_eval_count > 0 && !looksCutShort(estimate, chunk.prompt_eval_count)) {
      next.promptCorrection = learnPromptCorrection(prev.promptCorrection, estimate.promptTokens / (prev.promptCorrection ?? 1), chunk.prompt_eval_count);
    }
    this.stats.set(model, next);
    this.dirtyRates.set(rateKey(node, model), { node, model, rates });
    this.dirtyStats.add(model);
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => void this.flush(), FLUSH_MS);
      this.flushTimer.unref();
    }
  }

  /** Writes what was learned since the last flush; other replicas pick it up on their next refresh. */
  async flush(): Promise<void> {
    this.flushTimer = undefined;
    const rates = [...this.dirtyRates.values()];
    const models = [...this.dirtyStats];
    this.dirtyRates.clear();
    this.dirtyStats.clear();
    if (rates.length === 0 && models.length === 0) return;
    try {
      await Promise.all([
        ...rates.map((r) => this.fleetRepo.saveRates(r.node, r.model, r.rates)),
        this.statsRepo.save(models.map((m) => [m, this.stats.get(m)])),
      ]);
    } catch {
      // Redis away: what was learned here stays in memory and goes out with the next flush
      for (const r of rates) if (!this.dirtyRates.has(rateKey(r.node, r.model))) this.dirtyRates.set(rateKey(r.node, r.model), r);
      for (const m of models) this.dirtyStats.add(m);
    }
  }
}

/** A reported prompt under a quarter of the estimate: an older Ollama that left cached tokens out of the count. */
export function looksCutShort(estimate: RequestEstimate, reported: number): boolean {
  return reported < estimate.promptTokens / 4;
}
