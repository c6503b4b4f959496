import { randomBytes } from 'node:crypto';

/** Ids Herd hands out for batches, files, batch lines and jobs: a fixed prefix and 24 random hex digits. */
const ID_PATTERNS = {
  batch: /^batch_[0-9a-f]{24}$/,
  file: /^file-[0-9a-f]{24}(?:-output|-errors)?$/,
  job: /^job_[0-9a-f]{24}$/,
};

function random(): string {
  return randomBytes(12).toString('hex');
}

export const newBatchId = (): string => `batch_${random()}`;
export const newFileId = (): string => `file-${random()}`;
export const newJobId = (): string => `job_${random()}`;
/** The `id` of one line of an output or error file. */
export const newLineId = (): string => `batch_req_${random()}`;

/** Files a batch produces are named after it, so a finalizer that runs twice writes the same ids. */
export function outputFileIds(batchId: string): { output: string; errors: string } {
  const hex = batchId.slice('batch_'.length);
  return { output: `file-${hex}-output`, errors: `file-${hex}-errors` };
}

/** Whether `id` is one Herd could have made (anything else is a 404 before Redis is asked). */
export function isId(kind: keyof typeof ID_PATTERNS, id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERNS[kind].test(id);
}

/** Digits of a line index in a work member: enough for any HERD_BATCH_MAX_LINES, and members sort by line. */
const INDEX_DIGITS = 9;

/** The work-queue member of one batch line: `<batch id>:<zero-padded line index>` (the owner is before the colon). */
export function lineMember(batchId: string, index: number): string {
  return `${batchId}:${String(index).padStart(INDEX_DIGITS, '0')}`;
}

/** The batch and line index of a member made by lineMember, or undefined for anything else. */
export function parseLineMember(member: string): { batchId: string; index: number } | undefined {
  const cut = member.indexOf(':');
  if (cut < 0) return undefined;
  const batchId = member.slice(0, cut);
  const index = Number(member.slice(cut + 1));
  return isId('batch', batchId) && Number.isSafeInteger(index) && index >= 0 ? { batchId, index } : undefined;
}
