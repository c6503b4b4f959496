import type { Response } from 'express';

/** Aborts when the client goes away before its response was fully written. */
export function clientAbortSignal(res: Response): AbortSignal {
  const ac = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}
