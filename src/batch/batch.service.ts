import { Inject, Injectable } from '@nestjs/common';
import { HerdError } from '../common/herd-error';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { FleetRegistry } from '../fleet/fleet-registry';
import { DirectCall } from '../inference/direct-call';
import { normalizeModelName } from '../scheduler/model-name';
import { BatchCallers, visibleTo, type Presented, type Viewer } from './batch-callers';
import { BatchFilesService } from './batch-files.service';
import { BatchFinalizer } from './batch-finalizer';
import { isId, newBatchId } from './batch-ids';
import { readBatchInput } from './batch-input';
import { readBatchParams } from './batch-params';
import { batchObject, readPage, type BatchObject, type ListPage } from './batch-views';
import { BatchRepository } from './batch.repository';
import { WorkRunners } from './work-runners';

function batchNotFound(id: unknown): HerdError {
  return new HerdError(404, 'HERD_NOT_FOUND', `No such Batch object: ${typeof id === 'string' ? id.slice(0, 80) : ''}`);
}

/**
 * /v1/batches. A batch is created only from a file whose every request would run (readBatchInput): anything wrong
 * is a 400 naming the line, before anything is stored. Its lines then wait in the batch lane's work queue and run
 * on whichever replicas have room (BatchLineWorker); its files are written once it closes (BatchFinalizer).
 */
@Injectable()
export class BatchService {
  constructor(
    private readonly batches: BatchRepository,
    private readonly files: BatchFilesService,
    private readonly callers: BatchCallers,
    private readonly finalizer: BatchFinalizer,
    private readonly runners: WorkRunners,
    private readonly direct: DirectCall,
    private readonly fleet: FleetRegistry,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
  ) {}

  async create(presented: Presented, body: unknown): Promise<BatchObject> {
    const params = readBatchParams(body);
    const viewer = await this.callers.viewer(presented);
    const file = await this.files.meta(viewer, params.inputFileId);
    if (file.purpose !== 'batch') throw HerdError.badRequest(`input_file_id: file ${file.id} has purpose "${file.purpose}", not "batch"`);
    const lines = await readBatchInput(await this.files.text(viewer, file.id), {
      endpoint: params.endpoint,
      maxLines: this.config.batchMaxLines,
      readBody: (b) => this.direct.check(params.endpoint, b).model,
      modelKnown: (m) => this.fleet.modelPresence(normalizeModelName(m)) !== 'absent',
      pause: () => new Promise((r) => setImmediate(r)),
    });
    // Admitted as its requests would be: a key must allow every model the batch uses.
    const caller = await this.callers.callerFor(
      presented,
      lines.map((l) => normalizeModelName(l.model)),
      5,
    );
    const id = newBatchId();
    await this.batches.storeLines(
      id,
      lines.map((l) => JSON.stringify({ custom_id: l.customId, body: l.body })),
    );
    await this.batches.open(id, caller.tenant, lines.length, params.windowSeconds, {
      endpoint: params.endpoint,
      input_file_id: file.id,
      completion_window: params.completionWindow,
      metadata: params.metadata ? JSON.stringify(params.metadata) : '',
      tenant: caller.tenant,
      caller: JSON.stringify(caller),
    });
    this.runners.kick('batch');
    return this.get(viewer, id);
  }

  async get(viewer: Viewer, id: string): Promise<BatchObject> {
    return batchObject(await this.meta(viewer, id));
  }

  async list(viewer: Viewer, after: string | undefined, limit: number): Promise<ListPage<BatchObject>> {
    const index = this.batches.batchIndexKey(viewer.scoped ? `t:${viewer.tenant}` : 'all');
    return readPage(await this.batches.page(index, after, limit), limit, (id) => this.batches.batchMeta(id), batchObject);
  }

  /**
   * No new line starts; lines running finish and are in the output. The batch is `cancelling` until the last of them
   * ended, then `cancelled` with its partial files. Cancelling a cancelling or cancelled batch answers it as it is.
   */
  async cancel(viewer: Viewer, id: string): Promise<BatchObject> {
    await this.meta(viewer, id);
    const status = await this.batches.cancel(id);
    if (status !== 'cancelling' && status !== 'cancelled') {
      throw new HerdError(409, 'HERD_CONFLICT', `batch ${id} is ${status}: only a validating or in_progress batch can be cancelled`);
    }
    if (status === 'cancelling') await this.finalizer.withdrawWaiting(id);
    return this.get(viewer, id);
  }

  private async meta(viewer: Viewer, id: string): Promise<Record<string, string>> {
    const meta = isId('batch', id) ? await this.batches.batchMeta(id) : undefined;
    if (!meta || !visibleTo(viewer, meta.tenant)) throw batchNotFound(id);
    return meta;
  }
}
