import { Inject, Injectable } from '@nestjs/common';
import { toClientError } from '../common/client-error';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { FleetRegistry } from '../fleet/fleet-registry';
import { DirectCall } from '../inference/direct-call';
import type { Caller } from '../tenants/caller';
import { fleetSlots } from './fleet-slots';
import { JobRepository } from './job.repository';
import { afterHerdError, MAX_TRIES } from './retry-policy';
import type { AbortReason, WorkHandler, WorkVerdict } from './work-runner';
import { WorkRepository, type Claim } from './work.repository';

/**
 * Runs one async job through the pipeline in the interactive lane, at its priority, as the caller that submitted it.
 * A node's answer (any status) completes the job; a Herd-side failure is retried like a batch line's, then fails it.
 */
@Injectable()
export class JobWorker implements WorkHandler {
  readonly lane = 'jobs';

  constructor(
    private readonly direct: DirectCall,
    private readonly jobs: JobRepository,
    private readonly work: WorkRepository,
    private readonly fleet: FleetRegistry,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
  ) {}

  /** Jobs wait in the shared queue like requests: two per slot keeps every slot fed without flooding the queue. */
  cap(): number {
    return Math.max(2, 2 * fleetSlots(this.fleet.nodes()));
  }

  async handle(claim: Claim, signal: AbortSignal): Promise<WorkVerdict> {
    const id = claim.member;
    const job = (await this.jobs.start(id)) === 'running' ? await this.jobs.get(id) : undefined;
    if (!job) {
      await this.work.drop('jobs', claim);
      return { kind: 'done' };
    }
    const ttl = this.config.jobResultTtlMs;
    if (claim.tries >= MAX_TRIES) {
      const message = `herd: this job was interrupted ${claim.tries} times (its runner stopped or lost Redis); not tried again`;
      await this.jobs.finish(claim, id, 'failed', 'error', JSON.stringify({ status: 503, code: 'HERD_INTERRUPTED', message }), ttl);
      return { kind: 'done' };
    }
    try {
      const caller = JSON.parse(job.caller) as Caller;
      const answer = await this.direct.run(job.route, JSON.parse(job.body), { priority: caller.priority, caller, signal });
      const result = { status_code: answer.status, body: answer.body, request_id: answer.requestId, node: answer.node };
      await this.jobs.finish(claim, id, 'completed', 'result', JSON.stringify(result), ttl);
    } catch (err) {
      if (signal.aborted) {
        if ((signal.reason as AbortReason) !== 'canceled') return { kind: 'later', delayMs: 0, counts: false };
        await this.work.drop('jobs', claim);
        return { kind: 'done' };
      }
      const e = toClientError(err);
      const decision = afterHerdError(e, claim.tries, Math.random());
      if (decision.kind === 'later') return decision;
      await this.jobs.finish(claim, id, 'failed', 'error', JSON.stringify({ status: e.status, code: e.code, message: e.message }), ttl);
    }
    return { kind: 'done' };
  }
}
