/** Time helpers. Every timer is unref'd: the HTTP listener, not a pending delay, keeps a process alive. */

/** Epoch milliseconds with sub-millisecond precision. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Milliseconds (from performance.now) to whole nanoseconds, at least 1 so rates never divide by zero. */
export function msToNs(ms: number): number {
  return Math.max(1, Math.round(ms * 1e6));
}

export class SimAbortError extends Error {
  constructor() {
    super('request canceled');
    this.name = 'SimAbortError';
  }
}

/**
 * Waits `ms` milliseconds (setImmediate when ms <= 0, so it stays asynchronous but costs no timer).
 * Rejects with SimAbortError as soon as the signal aborts.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new SimAbortError());
  return new Promise<void>((resolve, reject) => {
    let onAbort: (() => void) | undefined;
    const done = (): void => {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    if (ms <= 0) {
      const handle = setImmediate(done);
      if (signal) {
        onAbort = () => {
          clearImmediate(handle);
          reject(new SimAbortError());
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      return;
    }
    const timer = setTimeout(done, ms);
    timer.unref();
    if (signal) {
      onAbort = () => {
        clearTimeout(timer);
        reject(new SimAbortError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
}

/** Resolves with the promise, or rejects with SimAbortError when the signal aborts first (the promise keeps running). */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new SimAbortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new SimAbortError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

let lastIsoMs = -1;
let lastIso = '';

/** ISO timestamp for created_at fields, cached per millisecond (a stream writes many chunks per ms at high speed). */
export function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastIsoMs) {
    lastIsoMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}
