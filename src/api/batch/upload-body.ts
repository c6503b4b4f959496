import type { Request } from 'express';
import { formBoundary } from '../../batch/multipart-form';

/** What was read of an upload's body. */
export type UploadBody = { body: Buffer; boundary: string } | { tooLarge: true } | { aborted: true };

/** Room for the form's other fields and part headers around the file. */
const FORM_OVERHEAD_BYTES = 64 * 1024;

/**
 * Reads a multipart upload's body (the JSON parser leaves multipart bodies to their route, see bootstrap.ts), or
 * undefined when the request is not multipart/form-data with a boundary. Bytes beyond `maxFileBytes` (plus room
 * for the form around the file) are read and dropped, so the client gets a clear 413 rather than a reset.
 */
export function readUpload(req: Request, maxFileBytes: number): Promise<UploadBody> | undefined {
  const boundary = formBoundary(req.headers['content-type']);
  if (boundary === undefined) return undefined;
  const limit = maxFileBytes + FORM_OVERHEAD_BYTES;
  return new Promise((resolve) => {
    const pieces: Buffer[] = [];
    let size = 0;
    req.on('data', (piece: Buffer) => {
      size += piece.length;
      if (size <= limit) pieces.push(piece);
    });
    req.on('end', () => resolve(size > limit ? { tooLarge: true } : { body: Buffer.concat(pieces), boundary }));
    req.on('error', () => resolve({ aborted: true }));
    req.on('aborted', () => resolve({ aborted: true }));
  });
}
