// Waiting between attempts to reach the server: exponential backoff with jitter, which "Retry now" (or the
// browser coming back online) cuts short.

export const FIRST_DELAY_MS = 1_000;
export const MAX_DELAY_MS = 15_000;

export class Backoff {
  private delay = FIRST_DELAY_MS;
  private wake: (() => void) | null = null;

  /** The next wait: doubles each time up to MAX_DELAY_MS, ±20 % so that many clients do not retry in step. */
  next(): number {
    const base = this.delay;
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  reset() {
    this.delay = FIRST_DELAY_MS;
  }

  /** Sleeps `ms`, or less when `now()` is called or `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
      this.wake = done;
    });
  }

  /** Ends the current wait at once; returns whether there was one. */
  now(): boolean {
    const wake = this.wake;
    wake?.();
    return wake !== null;
  }
}
