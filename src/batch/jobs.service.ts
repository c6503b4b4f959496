import { Inject, Injectable } from '@nestjs/common';
import { resolvePriority } from '../admission/priority';
import { HerdError } from '../common/herd-error';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { FleetRegistry } from '../fleet/fleet-registry';
import { DirectCall } from '../inference/direct-call';
import { normalizeModelName } from '../scheduler/model-name';
import { BatchCallers, visibleTo, type Presented, type Viewer } from './batch-callers';
import { isId, newJobId } from './batch-ids';
import { JobRepository } from './job.repository';
import { WorkRunners } from './work-runners';

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'canceled';

export interface JobView {
  id: string;
  status: JobStatus;
  route: string;
  model: string;
  priority: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** Once completed: the node's answer. */
  result?: { status_code: number; body: unknown; request_id: string; node: string };
  /** Once failed: why Herd could not get it answered. */
  error?: { status: number; code: string; message: string };
}

function jobNotFound(id: unknown): HerdError {
  return new HerdError(404, 'HERD_NOT_FOUND', `herd: no job ${typeof id === 'string' ? id.slice(0, 80) : ''} (unknown, or its result expired)`);
}

/**
 * /herd/jobs: one inference request run later, durably, in the interactive lane at its priority. The route and body
 * are checked at submit (as the route itself would check them), the model must exist in the fleet, and the caller
 * is admitted then; the job runs on whichever replica's runner takes it, and its result is kept HERD_JOB_RESULT_TTL_MS.
 */
@Injectable()
export class JobsService {
  constructor(
    private readonly jobs: JobRepository,
    private readonly callers: BatchCallers,
    private readonly runners: WorkRunners,
    private readonly direct: DirectCall,
    private readonly fleet: FleetRegistry,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
  ) {}

  async submit(presented: Presented, input: unknown): Promise<{ id: string; status: JobStatus }> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw HerdError.badRequest('request body must be a JSON object {route, body, priority?}');
    const { route, body, priority: asked } = input as Record<string, unknown>;
    if (typeof route !== 'string') throw HerdError.badRequest('route is required: an inference route such as "/api/chat"');
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw HerdError.badRequest('body is required: the JSON object the route takes');
    const spec = this.direct.check(route, body);
    const priority = resolvePriority(asked ?? spec.bodyPriority, undefined);
    const model = normalizeModelName(spec.model);
    if (this.fleet.modelPresence(model) === 'absent') throw HerdError.modelNotFound(spec.model);
    const caller = await this.callers.callerFor(presented, [model], priority);
    const id = newJobId();
    await this.jobs.submit(id, { id, route, model: spec.model, priority: String(caller.priority), body: JSON.stringify(body), caller: JSON.stringify(caller), tenant: caller.tenant });
    this.runners.kick('jobs');
    return { id, status: 'queued' };
  }

  async get(viewer: Viewer, id: string): Promise<JobView> {
    return jobView(await this.record(viewer, id));
  }

  /** A queued job never runs; a running one is aborted. A finished job is answered as it is. */
  async cancel(viewer: Viewer, id: string): Promise<JobView> {
    await this.record(viewer, id);
    const before = await this.jobs.cancel(id, this.config.jobResultTtlMs);
    if (before === 'running') this.runners.abortJob(id);
    return this.get(viewer, id);
  }

  private async record(viewer: Viewer, id: string): Promise<Record<string, string>> {
    const job = isId('job', id) ? await this.jobs.get(id) : undefined;
    if (!job || !visibleTo(viewer, job.tenant)) throw jobNotFound(id);
    return job;
  }
}

function jobView(job: Record<string, string>): JobView {
  const time = (v: string | undefined): number | null => (v ? Number(v) : null);
  return {
    id: job.id,
    status: job.status as JobStatus,
    route: job.route,
    model: job.model,
    priority: Number(job.priority),
    created_at: Number(job.created_at),
    started_at: time(job.started_at),
    finished_at: time(job.finished_at),
    ...(job.result ? { result: JSON.parse(job.result) as JobView['result'] } : {}),
    ...(job.error ? { error: JSON.parse(job.error) as JobView['error'] } : {}),
  };
}
