/** Waits `ms`, or less if `signal` aborts first; never rejects, so callers just check the signal after. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Paces token i at start + i / rate, measured from elapsed time rather than one timer per token, so
 * high rates are not capped by timer granularity and a slow consumer does not slow the schedule down.
 */
export class Pacer {
  private start = performance.now();
  private readonly intervalMs: number;

  constructor(tokensPerSecond: number) {
    this.intervalMs = 1000 / tokensPerSecond;
  }

  /** Waits until token `index` is due. */
  async due(index: number, signal?: AbortSignal): Promise<void> {
    const wait = this.start + index * this.intervalMs - performance.now();
    if (wait > 1) await sleep(wait, signal);
  }

  /** How long `tokens` take at this rate. */
  durationOf(tokens: number): number {
    return tokens * this.intervalMs;
  }

  /** Pushes the rest of the schedule back, so a stall delays later tokens instead of bunching them. */
  shift(ms: number): void {
    this.start += ms;
  }
}
