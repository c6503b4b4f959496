/**
 * A list of callbacks where one that throws never keeps the others from running: each is called in its own
 * try, and what it threw goes to `onError` (a log line) instead of up into whoever emitted.
 */
export class Listeners<A extends unknown[]> {
  private readonly fns: ((...args: A) => void)[] = [];

  constructor(private readonly onError: (err: unknown) => void = () => undefined) {}

  add(fn: (...args: A) => void): void {
    this.fns.push(fn);
  }

  emit(...args: A): void {
    for (const fn of this.fns) {
      try {
        fn(...args);
      } catch (err) {
        try {
          this.onError(err);
        } catch {
          // the error reporter itself failed: nothing more to do
        }
      }
    }
  }
}
