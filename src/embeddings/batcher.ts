import { Quiescence } from '../time/quiescence.js';
import { tooManyRequests, unavailable } from '../errors/errors.js';
import { DRAINING_RETRY_AFTER_SECONDS } from '../http/intake.js';
import type { EmbeddedBatch } from './model.js';

export interface BatcherOptions {
  /** Texts per model call. */
  readonly maxBatch: number;
  /** Texts accepted and not yet answered; beyond it submissions get 429. */
  readonly maxQueued: number;
  /**
   * Model calls outstanding at once (default 1). A model on another thread runs them one after
   * another anyway; a second one waiting there means it never idles while this loop answers the
   * first.
   */
  readonly inFlightBatches?: number;
  readonly run: (texts: string[]) => Promise<EmbeddedBatch>;
}

interface Job {
  readonly texts: readonly string[];
  readonly vectors: Float32Array[];
  readonly tokens: number[];
  /** Next text of this job not yet put into a batch. */
  next: number;
  /** Texts of this job not yet embedded. */
  pending: number;
  settled: boolean;
  resolve(batch: EmbeddedBatch): void;
  reject(err: unknown): void;
}

/**
 * Continuous micro-batching: while a model call runs, new requests queue, and the next call
 * takes everything queued (up to `maxBatch` texts, splitting large requests). No added wait
 * when idle, bounded memory when busy.
 */
export class MicroBatcher {
  readonly #opts: BatcherOptions;
  readonly #queue: Job[] = [];
  readonly #quiet = new Quiescence(() => this.#accepted === 0);
  #accepted = 0;
  #loops = 0;
  #closed = false;

  constructor(opts: BatcherOptions) {
    if (!(opts.maxBatch >= 1 && opts.maxQueued >= opts.maxBatch)) {
      throw new RangeError(`MicroBatcher needs 1 <= maxBatch (${opts.maxBatch}) <= maxQueued (${opts.maxQueued})`);
    }
    this.#opts = opts;
  }

  /** Texts accepted and not yet answered. */
  get inFlight(): number {
    return this.#accepted;
  }

  submit(texts: readonly string[]): Promise<EmbeddedBatch> {
    if (this.#closed) {
      return Promise.reject(
        unavailable('draining', 'this replica is shutting down and takes no new embedding work', DRAINING_RETRY_AFTER_SECONDS),
      );
    }
    if (this.#accepted + texts.length > this.#opts.maxQueued) {
      return Promise.reject(tooManyRequests(`embedding queue is full (${this.#opts.maxQueued} texts waiting); retry shortly`, 1));
    }
    if (texts.length === 0) return Promise.resolve({ vectors: [], tokens: [] });
    this.#accepted += texts.length;
    return new Promise<EmbeddedBatch>((resolve, reject) => {
      this.#queue.push({ texts, vectors: [], tokens: [], next: 0, pending: texts.length, settled: false, resolve, reject });
      this.#startLoop();
    });
  }

  /** From now on every submission is refused with 503; queued work still completes. */
  close(): void {
    this.#closed = true;
  }

  /** Resolves once nothing is queued or running, or when `signal` aborts. */
  whenIdle(signal: AbortSignal): Promise<void> {
    return this.#quiet.wait(signal);
  }

  /** Another batch may go out while the running ones compute, up to `inFlightBatches`. */
  #startLoop(): void {
    if (this.#loops >= (this.#opts.inFlightBatches ?? 1)) return;
    this.#loops++;
    // Requests parsed in the same I/O turn join the batch.
    setImmediate(() => void this.#loop());
  }

  async #loop(): Promise<void> {
    while (this.#queue.length > 0) {
      const parts = this.#take();
      if (this.#queue.length > 0) this.#startLoop();
      const texts = parts.flatMap((p) => p.job.texts.slice(p.from, p.from + p.count));
      try {
        const out = await this.#opts.run(texts);
        let at = 0;
        for (const { job, from, count } of parts) {
          for (let i = 0; i < count; i++) {
            job.vectors[from + i] = out.vectors[at + i]!;
            job.tokens[from + i] = out.tokens[at + i] ?? 0;
          }
          at += count;
          job.pending -= count;
          if (job.pending === 0) this.#settle(job, () => job.resolve({ vectors: job.vectors, tokens: job.tokens }));
        }
      } catch (err) {
        for (const { job } of parts) this.#settle(job, () => job.reject(err));
      }
    }
    this.#loops--;
  }

  #take(): { job: Job; from: number; count: number }[] {
    const parts: { job: Job; from: number; count: number }[] = [];
    let size = 0;
    while (this.#queue.length > 0 && size < this.#opts.maxBatch) {
      const job = this.#queue[0]!;
      const count = Math.min(this.#opts.maxBatch - size, job.texts.length - job.next);
      parts.push({ job, from: job.next, count });
      job.next += count;
      size += count;
      if (job.next === job.texts.length) this.#queue.shift();
    }
    return parts;
  }

  #settle(job: Job, answer: () => void): void {
    if (job.settled) return;
    job.settled = true;
    const i = this.#queue.indexOf(job);
    if (i >= 0) this.#queue.splice(i, 1);
    this.#accepted -= job.texts.length;
    answer();
    this.#quiet.changed();
  }
}
