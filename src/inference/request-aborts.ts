/**
 * Stops a request's current attempt on a node (or its wait for another node) when the client goes away or the
 * request timeout (HERD_REQUEST_TIMEOUT_MS) passes. One AbortController per attempt and plain listeners:
 * AbortSignal.timeout/any cost more per request than the rest of the bookkeeping.
 */
export class RequestAborts {
  /** Set once the request timeout passed. */
  timedOut = false;
  private current?: AbortController;
  /** Set while a failed attempt waits for another node: the request timeout covers that wait too. */
  private waiting?: AbortController;
  private readonly timer: NodeJS.Timeout;
  private readonly abortAll = (): void => {
    this.current?.abort();
    this.waiting?.abort();
  };

  constructor(
    private readonly client: AbortSignal,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.abortAll();
    }, timeoutMs);
    client.addEventListener('abort', this.abortAll, { once: true });
  }

  /** The controller of the next attempt (aborted already when the client left or the time is up). */
  nextAttempt(): AbortController {
    const controller = new AbortController();
    this.current = controller;
    if (this.client.aborted || this.timedOut) controller.abort();
    return controller;
  }

  /** The signal of a wait for another node (aborted already when the client left or the time is up); see endWait. */
  waitForNode(): AbortSignal {
    const waiting = new AbortController();
    this.waiting = waiting;
    if (this.client.aborted || this.timedOut) waiting.abort();
    return waiting.signal;
  }

  endWait(): void {
    this.waiting = undefined;
  }

  /** The request is over: no timer, no listener left behind. */
  end(): void {
    clearTimeout(this.timer);
    this.client.removeEventListener('abort', this.abortAll);
  }
}
