import type { Logger } from '../log/logger.js';
import type { Generation } from './generation.js';
import type { StreamMetrics } from './metrics.js';
import type { PendingBatch, StreamStore } from './store.js';

/** Entries are written at most this long after they were sent (or sooner, at 32 per stream). */
const FLUSH_INTERVAL_MS = 50;

/**
 * One writer for every generation of this replica: their pending entries go to the database in
 * one statement per flush, so the cost grows with flushes, not with streams × tokens.
 */
export class BatchWriter {
  private writing: Promise<void> | undefined;
  private nextWrite: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: StreamStore,
    private readonly logger: Logger,
    private readonly metrics: StreamMetrics,
    private readonly generations: () => Iterable<Generation>,
    /** Leases a write confirmed (it is fenced and extends them), as of when it was sent. */
    private readonly confirmed: (ids: string[], sentAt: number) => void,
  ) {
    this.timer = setInterval(() => {
      if (this.hasPending()) void this.flush();
    }, FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /**
   * Persists every generation's pending entries. One write runs at a time; a caller arriving
   * during a write gets the next one, which includes its entries.
   */
  flush(): Promise<void> {
    if (!this.writing) {
      this.writing = this.write().finally(() => {
        this.writing = undefined;
      });
      return this.writing;
    }
    this.nextWrite ??= this.writing.then(() => {
      this.nextWrite = undefined;
      return this.flush();
    });
    return this.nextWrite;
  }

  private hasPending(): boolean {
    for (const g of this.generations()) if (g.hasPending) return true;
    return false;
  }

  private async write(): Promise<void> {
    const batches: { batch: PendingBatch; gen: Generation }[] = [];
    for (const gen of this.generations()) {
      const batch = gen.takeBatch();
      if (batch) batches.push({ batch, gen });
    }
    if (batches.length === 0) return;
    const timer = this.metrics.logWrites.startTimer();
    const sentAt = performance.now();
    try {
      const fenced = await this.store.append(batches.map((b) => b.batch));
      timer();
      const written: string[] = [];
      for (const { batch, gen } of batches) {
        if (fenced.has(batch.id)) gen.leaseLost();
        else {
          gen.written(batch);
          written.push(batch.id);
        }
      }
      this.confirmed(written, sentAt);
    } catch (err) {
      // Put the entries back in order; the next tick retries them.
      for (const { batch, gen } of batches) gen.unsent(batch);
      this.logger.warn({ err: (err as Error).message, streams: batches.length }, 'stream log write failed; will retry');
    }
  }
}
