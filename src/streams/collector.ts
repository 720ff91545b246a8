import type { StreamClient } from './client.js';
import type { EndReason, Entry, Outcome } from './protocol.js';

/** How a stream ended for a collector: over, with its log, or handed off before it was. */
export type Collected =
  | { readonly kind: 'finished'; readonly entries: readonly Entry[]; readonly outcome: Outcome; readonly lastSeq: number }
  | { readonly kind: 'handed_off'; readonly reason: EndReason };

/**
 * A client that keeps every entry and answers once: for a request that returns the whole answer
 * (a chat completion without `stream`, a Responses request waited for). It is closed when the
 * request's client goes away, which stops a generation tied to its clients like any other.
 */
export class Collector implements StreamClient {
  cursor = 0;
  readonly finishNeedsAnswer = false;
  private readonly entries: Entry[] = [];
  private readonly listeners = new Set<() => void>();
  private settle!: (c: Collected) => void;
  readonly result: Promise<Collected> = new Promise((resolve) => (this.settle = resolve));
  private done = false;

  constructor(
    readonly streamId: string,
    readonly closedSignal: AbortSignal,
  ) {
    closedSignal.addEventListener('abort', () => this.close(), { once: true });
  }

  get closed(): boolean {
    return this.done || this.closedSignal.aborted;
  }

  send(entry: Entry): boolean {
    this.cursor = entry.seq;
    this.entries.push(entry);
    return true;
  }

  whenWritable(): Promise<void> {
    return Promise.resolve();
  }

  onClose(fn: () => void): () => void {
    if (this.closed) {
      fn();
      return () => undefined;
    }
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  finish(lastSeq: number, outcome: Outcome): void {
    this.settle({ kind: 'finished', entries: this.entries, outcome, lastSeq });
    this.close();
  }

  endResumable(reason: EndReason): Promise<void> {
    this.settle({ kind: 'handed_off', reason });
    this.close();
    return Promise.resolve();
  }

  private close(): void {
    if (this.done) return;
    this.done = true;
    for (const l of [...this.listeners]) l();
  }
}
