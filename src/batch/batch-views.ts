/** The OpenAI objects (Batch, FileObject) as clients see them, from the hashes Herd keeps in Redis. Pure. */

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['failed', 'completed', 'expired', 'cancelled']);

const TIMES = ['in_progress_at', 'finalizing_at', 'completed_at', 'failed_at', 'cancelling_at', 'cancelled_at', 'expires_at', 'expired_at'] as const;

export interface BatchObject {
  id: string;
  object: 'batch';
  endpoint: string;
  errors: { object: 'list'; data: { code: string; message: string; param: string | null; line: number | null }[] } | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number | null;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
}

function parsed<T>(raw: string | undefined, fallback: T): T {
  if (raw === undefined || raw === '') return fallback;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return fallback;
  }
}

const num = (raw: string | undefined): number | null => (raw === undefined || raw === '' ? null : Number(raw));

export function batchObject(meta: Record<string, string>): BatchObject {
  const times = Object.fromEntries(TIMES.map((t) => [t, num(meta[t])])) as Record<(typeof TIMES)[number], number | null>;
  return {
    id: meta.id,
    object: 'batch',
    endpoint: meta.endpoint,
    errors: parsed(meta.errors, null),
    input_file_id: meta.input_file_id,
    completion_window: meta.completion_window,
    status: meta.status as BatchStatus,
    output_file_id: meta.output_file_id || null,
    error_file_id: meta.error_file_id || null,
    created_at: Number(meta.created_at),
    ...times,
    request_counts: { total: Number(meta.total ?? 0), completed: Number(meta.completed ?? 0), failed: Number(meta.failed ?? 0) },
    metadata: parsed(meta.metadata, null),
  };
}

export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: 'processed';
  expires_at: number | null;
  status_details: null;
}

export function fileObject(meta: Record<string, string>): FileObject {
  return {
    id: meta.id,
    object: 'file',
    bytes: Number(meta.bytes),
    created_at: Number(meta.created_at),
    filename: meta.filename,
    purpose: meta.purpose,
    status: 'processed',
    expires_at: null,
    status_details: null,
  };
}

/** A page of a cursor list, OpenAI's shape. */
export interface ListPage<T extends { id: string }> {
  object: 'list';
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

export function listPage<T extends { id: string }>(items: T[], hasMore: boolean): ListPage<T> {
  return { object: 'list', data: items, first_id: items[0]?.id ?? null, last_id: items[items.length - 1]?.id ?? null, has_more: hasMore };
}

/**
 * One page of a listing: `ids` as the index answered them (up to one more than `limit`, which says there are more),
 * each read and shown; an id whose record is gone (deleted meanwhile) is left out.
 */
export async function readPage<T extends { id: string }>(ids: string[], limit: number, read: (id: string) => Promise<Record<string, string> | undefined>, show: (meta: Record<string, string>) => T): Promise<ListPage<T>> {
  const metas = await Promise.all(ids.slice(0, limit).map(read));
  return listPage(
    metas.flatMap((m) => (m ? [show(m)] : [])),
    ids.length > limit,
  );
}
