import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { newLineId, outputFileIds } from './batch-ids';
import { BatchRepository, type AdvanceState, type SealedFile } from './batch.repository';
import { TERMINAL_STATUSES } from './batch-views';
import { assembleFiles, failureResult, type StoredResult } from './result-lines';
import { WorkRepository } from './work.repository';

/** How long one finalizer may take before another replica may take over. */
const FINALIZE_LOCK_MS = 60_000;

/**
 * The end of a batch. Once a batch is closed (BatchRepository: no result is accepted any more), its output and
 * error files are written from its results, in input line order, and sealed with its final status in one script:
 * a second finalizer (after a crash, or racing) finds it sealed and throws its copy away, so the files are written
 * once and agree with request_counts.
 */
@Injectable()
export class BatchFinalizer {
  constructor(
    private readonly batches: BatchRepository,
    private readonly work: WorkRepository,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    private readonly log: Logger,
  ) {}

  /** Acts on what advancing a batch answered: withdraws a stopped batch's waiting lines, finalizes a closed one. */
  async after(batchId: string, state: AdvanceState): Promise<void> {
    if (state === 'stopped') await this.withdrawWaiting(batchId);
    if (state === 'closed') await this.finalize(batchId);
  }

  /** Lines of a stopped batch still waiting never start: out of the queue (those running finish). */
  async withdrawWaiting(batchId: string): Promise<void> {
    const meta = await this.batches.batchMeta(batchId);
    if (!meta) return;
    await this.work.withdraw('batch', await this.batches.unfinishedMembers(batchId, Number(meta.total)));
    await this.after(batchId, await this.batches.advance(batchId));
  }

  async finalize(batchId: string): Promise<void> {
    const owner = `${this.config.replicaId}-${randomBytes(4).toString('hex')}`;
    if (!(await this.batches.lockFinalizer(batchId, owner, FINALIZE_LOCK_MS))) return;
    const temps: string[] = [];
    try {
      const meta = await this.batches.batchMeta(batchId);
      if (!meta?.closed || TERMINAL_STATUSES.has(meta.status)) return;
      const total = Number(meta.total);
      const results = await this.batches.results(batchId);
      const missing = meta.closed === 'expired' ? expiredLines(await this.batches.lines(batchId)) : undefined;
      const files = assembleFiles(results, total, missing);
      const ids = outputFileIds(batchId);
      const write = async (id: string, filename: string, content: string): Promise<SealedFile | undefined> => {
        if (content === '') return undefined;
        const tmpKey = this.batches.tempContentKey(id, owner);
        temps.push(tmpKey);
        const bytes = Buffer.from(content);
        await this.batches.writeContent(tmpKey, bytes);
        return { id, filename, tmpKey, bytes: bytes.length };
      };
      const output = await write(ids.output, `${batchId}_output.jsonl`, files.output);
      const errors = await write(ids.errors, `${batchId}_errors.jsonl`, files.errors);
      if (await this.batches.seal(batchId, meta.tenant ?? '', { completed: files.completed, failed: files.failed }, output, errors)) {
        temps.length = 0;
        await this.batches.dropWorkingSet(batchId);
        this.log.info('batch finished', { batch: batchId, status: meta.closed, completed: files.completed, failed: files.failed });
      }
    } finally {
      await this.batches.deleteKeys(...temps).catch(() => undefined);
      await this.batches.unlockFinalizer(batchId).catch(() => undefined);
    }
  }
}

/** An expired batch's unfinished lines go to its error file, as OpenAI reports them. */
function expiredLines(lines: Record<string, string>): (index: number) => StoredResult | undefined {
  return (index) => {
    const raw = Object.prototype.hasOwnProperty.call(lines, String(index)) ? lines[String(index)] : undefined;
    if (raw === undefined) return undefined;
    const { custom_id: customId } = JSON.parse(raw) as { custom_id: string };
    return failureResult(newLineId(), customId, 'batch_expired', 'This request could not be executed before the completion window expired.');
  };
}
