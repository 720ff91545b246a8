/** Server-sent events, as every long-lived response of the public API writes them. */
import type { Request, Response } from 'express';
import { badRequest } from '../errors/errors.js';
import { requestSignal } from './request-signal.js';

/** Headers for an event stream that proxies neither buffer nor transform. */
export const SSE_HEADERS = Object.freeze({
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
});

/** The reconnection delay a browser's EventSource uses after the server closes. */
export const sseRetry = (ms: number) => `retry: ${ms}\n\n`;

/**
 * One event: `data` as JSON (a string is sent as is: `[DONE]`), with an optional name and id.
 * Without an id the client's Last-Event-ID stays what it was.
 */
export function sseFrame(data: unknown, opts: { event?: string; id?: number } = {}): string {
  const head = `${opts.id === undefined ? '' : `id: ${opts.id}\n`}${opts.event ? `event: ${opts.event}\n` : ''}`;
  return `${head}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/**
 * Where a (re)connecting client resumes: `Last-Event-ID` (an EventSource sends its own) over
 * `?after=N` (a client starting on another page or replica). Undefined when neither is given; a
 * 400 with `code`, naming the field, when the value is not an integer ≥ `min`.
 */
export function resumeCursor(
  req: Pick<Request, 'get' | 'query'>,
  opts: { min: number; code: string; meaning: string },
): number | undefined {
  const header = req.get('last-event-id');
  const raw = (header ?? (typeof req.query.after === 'string' ? req.query.after : undefined))?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!/^-?\d{1,9}$/.test(raw) || Number(raw) < opts.min) {
    throw badRequest(
      opts.code,
      `${header !== undefined ? 'Last-Event-ID' : 'after'} must be ${opts.meaning} (an integer ≥ ${opts.min})`,
    );
  }
  return Number(raw);
}

/**
 * One long-lived SSE response. Its closed state comes from the request's signal, bound when the
 * request arrived, so a client that left while the handler was still awaiting is seen as gone
 * and `onClose` listeners added afterwards run at once instead of never.
 */
export class EventStream {
  private readonly signal: AbortSignal;
  private ended = false;

  constructor(private readonly res: Response) {
    this.signal = requestSignal(res);
  }

  /** Aborts when the response closes: the client went away, or it ended. */
  get closedSignal(): AbortSignal {
    return this.signal;
  }

  /** The client went away, or we ended the response. */
  get closed(): boolean {
    return this.ended || this.signal.aborted;
  }

  /** Sends the headers and, for an EventSource, the reconnection delay; proxies that honour the hints buffer nothing. */
  open(retryMs: number | undefined, headers: Readonly<Record<string, string>> = {}): void {
    this.res.writeHead(200, { ...SSE_HEADERS, ...headers });
    if (retryMs !== undefined) this.res.write(sseRetry(retryMs));
  }

  /** False when the socket buffer is full (wait for `onDrain`) or the stream is closed. */
  write(frame: string): boolean {
    if (this.closed) return false;
    return this.res.write(frame);
  }

  get writable(): boolean {
    return !this.closed && !this.res.writableNeedDrain;
  }

  onDrain(fn: () => void): void {
    this.res.once('drain', fn);
  }

  /** Resolves once the socket takes writes again, or the stream closed. */
  whenWritable(): Promise<void> {
    if (this.writable || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.onClose(resolve);
      this.onDrain(() => {
        off();
        resolve();
      });
    });
  }

  /** Runs `fn` once the stream closes — at once if it already has. Returns an unsubscribe function. */
  onClose(fn: () => void): () => void {
    if (this.closed) {
      fn();
      return () => undefined;
    }
    const listener = () => fn();
    this.signal.addEventListener('abort', listener, { once: true });
    return () => this.signal.removeEventListener('abort', listener);
  }

  /** Ends the response after `frame`; resolves once the bytes are handed to the socket (or it closed). */
  end(frame = ''): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.ended = true;
    return new Promise((resolve) => {
      this.signal.addEventListener('abort', () => resolve(), { once: true });
      this.res.end(frame, () => resolve());
    });
  }
}
