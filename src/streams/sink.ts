import type { Response } from 'express';
import type { TailTarget } from '../http/log-tail.js';
import { EventStream } from '../http/sse.js';
import { RETRY_MS, sse, type EndReason, type Outcome } from './protocol.js';
import type { Chunk } from './store.js';

/**
 * One client connection receiving one stream as SSE. It remembers the last sequence number it
 * wrote, which is what a resumable `end` tells the client to reconnect from.
 */
export class SseSink implements TailTarget<Chunk> {
  private readonly events: EventStream;

  constructor(
    res: Response,
    readonly streamId: string,
    /** The last sequence number this client has. */
    public cursor: number,
  ) {
    this.events = new EventStream(res);
  }

  /** Set once the client went away or we ended the response. */
  get closed(): boolean {
    return this.events.closed;
  }

  open(): void {
    this.events.open(RETRY_MS, { 'Lastcall-Stream-Id': this.streamId });
  }

  /** False when the socket buffer is full: stop writing until `onDrain`. */
  token(seq: number, text: string): boolean {
    this.cursor = seq;
    return this.events.write(sse.token(seq, text));
  }

  send(chunk: Chunk): boolean {
    return this.token(chunk.seq, chunk.text);
  }

  get writable(): boolean {
    return this.events.writable;
  }

  whenWritable(): Promise<void> {
    return this.events.whenWritable();
  }

  get closedSignal(): AbortSignal {
    return this.events.closedSignal;
  }

  onDrain(fn: () => void): void {
    this.events.onDrain(fn);
  }

  onClose(fn: () => void): () => void {
    return this.events.onClose(fn);
  }

  finish(lastSeq: number, outcome: Outcome): void {
    void this.events.end(sse.final(lastSeq, outcome));
  }

  /** Tells the client to reconnect from its cursor; resolves once the bytes are handed to the socket. */
  endResumable(reason: EndReason): Promise<void> {
    return this.events.end(sse.end(this.streamId, this.cursor, reason));
  }
}
