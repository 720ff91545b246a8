/** Time source injected into the drain engine so unit tests run on simulated time. */
export interface Clock {
  now(): number;
  /** Calls `fn` after `ms`; the timer never keeps the process alive. Returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return () => clearTimeout(t);
  },
};

/** A point in time a participant must be done by, with a signal that aborts when it passes. */
export interface Deadline {
  readonly at: number;
  readonly signal: AbortSignal;
  remainingMs(): number;
}

export function deadlineAt(clock: Clock, at: number): Deadline & { dispose(): void; expireNow(): void } {
  const controller = new AbortController();
  const cancel = clock.setTimer(at - clock.now(), () => controller.abort(new DeadlineExceeded()));
  return {
    at,
    signal: controller.signal,
    remainingMs: () => (controller.signal.aborted ? 0 : Math.max(0, at - clock.now())),
    dispose: cancel,
    /** Brings the deadline forward to now (the sequence was told to hurry). */
    expireNow: () => {
      cancel();
      controller.abort(new DeadlineExceeded());
    },
  };
}

export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
  constructor() {
    super('deadline exceeded');
  }
}

/** Resolves after `ms` or as soon as `signal` aborts, whichever is first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const cancel = clock.setTimer(ms, done);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Resolves when `signal` aborts — at once if it already has. */
export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
