import { Inject, Injectable } from '@nestjs/common';
import { HerdError } from '../common/herd-error';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { visibleTo, type Viewer } from './batch-callers';
import { isId, newFileId } from './batch-ids';
import { fileObject, readPage, type FileObject, type ListPage } from './batch-views';
import { BatchRepository } from './batch.repository';

/** An uploaded file, as the multipart form carried it. */
export interface Upload {
  filename?: string;
  data: Buffer;
}

const MAX_FILENAME = 255;

export function fileNotFound(id: unknown): HerdError {
  return new HerdError(404, 'HERD_NOT_FOUND', `No such File object: ${typeof id === 'string' ? id.slice(0, 80) : ''}`);
}

/**
 * /v1/files: files uploaded for batches (purpose "batch") and the output and error files batches produce. Upload
 * checks what can be checked without knowing the batch (size, UTF-8, line count); the requests themselves are
 * checked when a batch is created from the file.
 */
@Injectable()
export class BatchFilesService {
  constructor(
    private readonly batches: BatchRepository,
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
  ) {}

  get maxBytes(): number {
    return this.config.batchMaxFileBytes;
  }

  async upload(viewer: Viewer, purpose: string | undefined, file: Upload | undefined): Promise<FileObject> {
    if (purpose !== 'batch') throw HerdError.badRequest('purpose must be "batch" (Herd keeps files for the Batch API only)');
    if (!file) throw HerdError.badRequest('file is required (a multipart form field named "file")');
    if (file.data.length > this.config.batchMaxFileBytes) throw tooLarge(this.config.batchMaxFileBytes);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(file.data);
    } catch {
      throw HerdError.badRequest('file is not UTF-8 text: a batch file is JSONL, one request per line');
    }
    const requests = text.split('\n').filter((l) => l.trim() !== '').length;
    if (requests > this.config.batchMaxLines) throw HerdError.badRequest(`file has ${requests} lines, more than ${this.config.batchMaxLines} (HERD_BATCH_MAX_LINES)`);
    const meta = {
      id: newFileId(),
      bytes: String(file.data.length),
      created_at: String(Math.floor(Date.now() / 1000)),
      filename: cleanFilename(file.filename),
      purpose,
      tenant: viewer.tenant,
    };
    await this.batches.saveFile(meta, file.data);
    return fileObject(meta);
  }

  /** The file's record, when it exists and the viewer may see it; 404 otherwise. */
  async meta(viewer: Viewer, id: string): Promise<Record<string, string>> {
    const meta = isId('file', id) ? await this.batches.fileMeta(id) : undefined;
    if (!meta || !visibleTo(viewer, meta.tenant)) throw fileNotFound(id);
    return meta;
  }

  async get(viewer: Viewer, id: string): Promise<FileObject> {
    return fileObject(await this.meta(viewer, id));
  }

  /** The file's bytes, piece by piece (checked before the first piece is read). */
  async content(viewer: Viewer, id: string): Promise<AsyncGenerator<Buffer>> {
    await this.meta(viewer, id);
    return this.batches.fileContent(id);
  }

  async text(viewer: Viewer, id: string): Promise<string> {
    const pieces: Buffer[] = [];
    for await (const piece of await this.content(viewer, id)) pieces.push(piece);
    return Buffer.concat(pieces).toString('utf8');
  }

  async delete(viewer: Viewer, id: string): Promise<{ id: string; object: 'file'; deleted: true }> {
    const meta = await this.meta(viewer, id);
    await this.batches.deleteFile(id, meta.tenant);
    return { id, object: 'file', deleted: true };
  }

  async list(viewer: Viewer, after: string | undefined, limit: number): Promise<ListPage<FileObject>> {
    const index = this.batches.fileIndexKey(viewer.scoped ? `t:${viewer.tenant}` : 'all');
    return readPage(await this.batches.page(index, after, limit), limit, (id) => this.batches.fileMeta(id), fileObject);
  }
}

export function tooLarge(limit: number): HerdError {
  return new HerdError(413, 'HERD_BAD_REQUEST', `file is larger than ${limit} bytes (HERD_BATCH_MAX_FILE_BYTES)`);
}

/** The name as given, without control characters or path, at most 255 characters. */
function cleanFilename(name: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  const clean = (name ?? '').replace(/[\u0000-\u001f\u007f]/g, '').replace(/^.*[\\/]/, '').slice(0, MAX_FILENAME);
  return clean || 'upload.jsonl';
}
