import type { Logger } from '../log/logger.js';
import type { Generation } from './generation.js';
import type { PendingBatch, StreamStore } from './store.js';

/** Chunks are written at most this long after they were sent (or sooner, at 32 per stream). */
const FLUSH_INTERVAL_MS = 50;

/**
 * One writer for every generation of this replica: their pending chunks go to the database in
 * one statement per flush, so the cost grows with flushes, not with streams × tokens.
 */
export class BatchWriter {
  private writing: Promise<void> | undefined;
  private nextWrite: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: StreamStore,
    private readonly logger: Logger,
    private readonly generations: () => Iterable<Generation>,
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
   * Persists every generation's pending chunks. One write runs at a time; a caller arriving
   * during a write gets the next one, which includes its chunks.
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
    for (const g of this.generations()) if (g.pending.length > 0) return true;
    return false;
  }

  private async write(): Promise<void> {
    const batches: (PendingBatch & { gen: Generation })[] = [];
    for (const gen of this.generations()) {
      if (gen.pending.length === 0) continue;
      batches.push({ id: gen.id, epoch: gen.lease.epoch, chunks: gen.pending, gen });
      gen.pending = [];
    }
    if (batches.length === 0) return;
    try {
      const fenced = await this.store.append(batches);
      for (const b of batches) {
        if (fenced.has(b.id)) b.gen.leaseLost();
        else b.gen.markPersisted(b.chunks.at(-1)!.seq);
      }
    } catch (err) {
      // Put the chunks back in order; the next tick retries them.
      for (const b of batches) b.gen.pending = [...b.chunks, ...b.gen.pending];
      this.logger.warn({ err: (err as Error).message, streams: batches.length }, 'stream chunk write failed; will retry');
    }
  }
}
