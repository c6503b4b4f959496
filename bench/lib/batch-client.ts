import { setTimeout as sleep } from 'node:timers/promises';

/** One line of an OpenAI batch input file. */
export interface BatchLine {
  custom_id: string;
  method: 'POST';
  url: string;
  body: Record<string, unknown>;
}

/** What the bench reads of a batch while it runs (OpenAI's Batch object, the fields used here). */
export interface BatchView {
  id: string;
  status: string;
  request_counts: { total: number; completed: number; failed: number };
  output_file_id?: string | null;
  error_file_id?: string | null;
}

async function json<T>(res: Response, what: string): Promise<T> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/** Uploads `lines` as a JSONL file (POST /v1/files, purpose batch) and starts a batch on it (POST /v1/batches). */
export async function submitBatch(herdUrl: string, lines: BatchLine[], endpoint: string): Promise<BatchView> {
  const form = new FormData();
  form.append('purpose', 'batch');
  form.append('file', new Blob([lines.map((l) => JSON.stringify(l)).join('\n') + '\n'], { type: 'application/jsonl' }), 'bench.jsonl');
  const file = await json<{ id: string }>(await fetch(`${herdUrl}/v1/files`, { method: 'POST', body: form }), 'POST /v1/files');
  const created = await fetch(`${herdUrl}/v1/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input_file_id: file.id, endpoint, completion_window: '24h' }),
  });
  return await json<BatchView>(created, 'POST /v1/batches');
}

export async function getBatch(herdUrl: string, id: string): Promise<BatchView> {
  return await json<BatchView>(await fetch(`${herdUrl}/v1/batches/${encodeURIComponent(id)}`), 'GET /v1/batches/:id');
}

export async function fileLines(herdUrl: string, fileId: string): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${herdUrl}/v1/files/${encodeURIComponent(fileId)}/content`);
  const text = await res.text();
  if (!res.ok) throw new Error(`GET /v1/files/:id/content: ${res.status} ${text.slice(0, 300)}`);
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Lines done (completed + failed) at a moment, from the start of the batch (real ms). */
export interface BatchProgress {
  atMs: number;
  done: number;
}

/**
 * Polls the batch every `everyMs` until it reaches a final status or `timeoutMs` passes; `onPoll` sees each
 * reading. Returns the last one.
 */
export async function followBatch(herdUrl: string, id: string, everyMs: number, timeoutMs: number, onPoll: (b: BatchView) => void): Promise<BatchView> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const b = await getBatch(herdUrl, id);
    onPoll(b);
    if (['completed', 'failed', 'cancelled', 'expired'].includes(b.status) || performance.now() > deadline) return b;
    await sleep(everyMs);
  }
}

/** Lines done by `atMs`, read from the progress samples (the last sample at or before it). */
export function doneBy(samples: readonly BatchProgress[], atMs: number): number {
  let done = 0;
  for (const s of samples) if (s.atMs <= atMs) done = Math.max(done, s.done);
  return done;
}
