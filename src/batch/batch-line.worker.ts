import { Inject, Injectable } from '@nestjs/common';
import { toClientError } from '../common/client-error';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { FleetRegistry } from '../fleet/fleet-registry';
import { DirectCall } from '../inference/direct-call';
import { batchLaneCap } from '../scheduler/batch-lane';
import type { Caller } from '../tenants/caller';
import { newLineId, parseLineMember } from './batch-ids';
import { BatchFinalizer } from './batch-finalizer';
import { BatchRepository } from './batch.repository';
import { fleetSlots } from './fleet-slots';
import { afterHerdError, MAX_TRIES } from './retry-policy';
import { answerResult, failureResult, storedForm, type StoredResult } from './result-lines';
import type { WorkHandler, WorkVerdict } from './work-runner';
import { WorkRepository, type Claim } from './work.repository';

/** A batch still being created: its lines wait this long before they are looked at again. */
const VALIDATING_WAIT_MS = 200;

/**
 * Runs one batch line through the pipeline in the batch lane (DirectCall), as the caller that created the batch,
 * and records its result (first writer wins). "No slot for the batch lane now" puts the line back to wait for a
 * slot; other Herd-side failures are retried with backoff (retry-policy.ts), then recorded in the error file.
 */
@Injectable()
export class BatchLineWorker implements WorkHandler {
  readonly lane = 'batch';

  constructor(
    private readonly direct: DirectCall,
    private readonly batches: BatchRepository,
    private readonly work: WorkRepository,
    private readonly finalizer: BatchFinalizer,
    private readonly fleet: FleetRegistry,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    private readonly log: Logger,
  ) {}

  cap(): number {
    return batchLaneCap(this.config.batchMaxRunning, fleetSlots(this.fleet.nodes()));
  }

  async handle(claim: Claim, signal: AbortSignal): Promise<WorkVerdict> {
    const at = parseLineMember(claim.member);
    if (!at) {
      await this.work.drop('batch', claim);
      return { kind: 'done' };
    }
    const { batchId, index } = at;
    const ctx = await this.batches.lineContext(batchId, index);
    if (ctx.status === 'validating') return { kind: 'later', delayMs: VALIDATING_WAIT_MS, counts: false };
    if (!ctx.line || !ctx.endpoint || ctx.closed || ctx.stop || ctx.status !== 'in_progress') {
      this.settle(batchId, await this.batches.dropLine(claim, batchId));
      return { kind: 'done' };
    }
    const { custom_id: customId, body } = JSON.parse(ctx.line) as { custom_id: string; body: Record<string, unknown> };
    const caller = ctx.caller ? (JSON.parse(ctx.caller) as Caller) : undefined;
    let result: StoredResult;
    if (claim.tries >= MAX_TRIES) {
      result = failureResult(newLineId(), customId, 'HERD_INTERRUPTED', `herd: this request was interrupted ${claim.tries} times (its runner stopped or lost Redis); not tried again`);
    } else {
      try {
        const answer = await this.direct.run(ctx.endpoint, body, { lane: 'batch', caller, signal });
        result = answerResult(newLineId(), customId, answer);
      } catch (err) {
        // Stopping, or another replica holds the line now: not a failure of the line.
        if (signal.aborted) return { kind: 'later', delayMs: 0, counts: false };
        const e = toClientError(err);
        const decision = afterHerdError(e, claim.tries, Math.random(), true);
        if (decision.kind === 'later') return decision;
        result = failureResult(newLineId(), customId, e.code, e.message);
      }
    }
    const { state } = await this.batches.completeLine(claim, batchId, index, storedForm(result));
    this.settle(batchId, state);
    return { kind: 'done' };
  }

  /** Finishing the batch is not the line's work: it runs beside it (and the sweeper retries it). */
  private settle(batchId: string, state: string): void {
    if (state !== 'closed' && state !== 'stopped') return;
    void this.finalizer.after(batchId, state).catch((err: Error) => this.log.warn('batch finalize failed; the sweeper retries', { batch: batchId, error: err.message }));
  }
}
