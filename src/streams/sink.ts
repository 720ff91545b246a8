import type { Response } from 'express';
import { SSE_HEADERS } from '../http/sse.js';
import { sse, type EndReason, type Outcome } from './protocol.js';

/**
 * One client connection receiving one stream as SSE. It remembers the last sequence number it
 * wrote, which is what a resumable `end` tells the client to reconnect from.
 */
export class SseSink {
  /** Set once the client went away or we ended the response. */
  closed = false;
  private readonly closeListeners = new Set<() => void>();

  constructor(
    private readonly res: Response,
    readonly streamId: string,
    /** The last sequence number this client has. */
    public cursor: number,
  ) {
    res.once('close', () => {
      this.closed = true;
      for (const l of [...this.closeListeners]) l();
    });
  }

  /** Sends the headers and the `retry:` field; nothing is buffered by proxies that honour the hints. */
  open(): void {
    this.res.status(200).set({ ...SSE_HEADERS, 'Lastcall-Stream-Id': this.streamId });
    this.res.flushHeaders();
    this.res.write(sse.retry());
  }

  /** False when the socket buffer is full: stop writing until `onDrain`. */
  token(seq: number, text: string): boolean {
    this.cursor = seq;
    return this.res.write(sse.token(seq, text));
  }

  get writable(): boolean {
    return !this.closed && !this.res.writableNeedDrain;
  }

  onDrain(fn: () => void): void {
    this.res.once('drain', fn);
  }

  onClose(fn: () => void): () => void {
    if (this.closed) {
      fn();
      return () => undefined;
    }
    this.closeListeners.add(fn);
    return () => this.closeListeners.delete(fn);
  }

  finish(lastSeq: number, outcome: Outcome): void {
    this.endWith(sse.final(lastSeq, outcome));
  }

  /** Tells the client to reconnect from its cursor; resolves once the bytes are handed to the socket. */
  endResumable(reason: EndReason): Promise<void> {
    return this.endWith(sse.end(this.streamId, this.cursor, reason));
  }

  private endWith(frame: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      this.res.once('close', () => resolve());
      this.res.end(frame, () => resolve());
    });
  }
}
