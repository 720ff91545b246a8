/**
 * Lets a drain participant wait until its owner is quiet ("nothing in flight"): the condition is
 * re-checked whenever the owner reports a change, and the wait never outlives the signal.
 */
export class Quiescence {
  private readonly waiters = new Set<() => void>();

  constructor(private readonly isQuiet: () => boolean) {}

  /** The owner calls this whenever what `isQuiet` looks at may have changed. */
  changed(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves once quiet, or when `signal` aborts. */
  wait(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!this.isQuiet() && !signal.aborted) return;
        this.waiters.delete(check);
        signal.removeEventListener('abort', check);
        resolve();
      };
      this.waiters.add(check);
      signal.addEventListener('abort', check, { once: true });
      check();
    });
  }
}
