import type { Response } from 'express';
import { EventStream } from '../http/sse.js';
import type { StreamClient } from './client.js';
import type { EndReason, Entry, Outcome } from './protocol.js';
import type { Renderer } from './render.js';

/**
 * One client connection receiving one stream, in its front door's format. It remembers the last
 * log entry it wrote (its cursor), which is where a resumable end tells the client to come back.
 */
export class SseSink implements StreamClient {
  private readonly events: EventStream;
  /** The last log entry this client has. */
  cursor: number;

  constructor(
    res: Response,
    readonly streamId: string,
    private readonly renderer: Renderer,
  ) {
    this.events = new EventStream(res);
    this.cursor = renderer.cursor;
  }

  /** Set once the client went away or we ended the response. */
  get closed(): boolean {
    return this.events.closed;
  }

  get closedSignal(): AbortSignal {
    return this.events.closedSignal;
  }

  /** Whether `finish` needs the whole answer's text (fetched once, at the end). */
  get finishNeedsAnswer(): boolean {
    return this.renderer.finalNeedsAnswer;
  }

  open(): void {
    this.events.open(this.renderer.retryMs, { ...this.renderer.headers, 'Lastcall-Stream-Id': this.streamId });
    this.events.write(this.renderer.opening());
  }

  /** False when the socket buffer is full: stop writing until `whenWritable`. */
  send(entry: Entry): boolean {
    this.cursor = entry.seq;
    return this.events.write(this.renderer.entry(entry));
  }

  get writable(): boolean {
    return this.events.writable;
  }

  whenWritable(): Promise<void> {
    return this.events.whenWritable();
  }

  onClose(fn: () => void): () => void {
    return this.events.onClose(fn);
  }

  finish(lastSeq: number, outcome: Outcome, answer = ''): void {
    void this.events.end(this.renderer.final(lastSeq, outcome, answer));
  }

  /** Tells the client to reconnect from its cursor; resolves once the bytes are handed to the socket. */
  endResumable(reason: EndReason): Promise<void> {
    return this.events.end(this.renderer.handoff(reason, this.cursor));
  }
}
