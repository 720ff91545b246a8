/** Server-sent events, as every long-lived response of the public API writes them. */
import type { Request } from 'express';
import { badRequest } from '../errors/errors.js';

/** Headers for an event stream that proxies neither buffer nor transform. */
export const SSE_HEADERS = Object.freeze({
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
});

/** The reconnection delay a browser's EventSource uses after the server closes. */
export const sseRetry = (ms: number) => `retry: ${ms}\n\n`;

/** One event; without an id the client's Last-Event-ID stays what it was. */
export function sseEvent(event: string, data: unknown, id?: number): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Where a (re)connecting client resumes: `Last-Event-ID` (an EventSource sends its own) over
 * `?after=N` (a client starting on another page or replica). Undefined when neither is given; a
 * 400 with `code`, naming the field, when the value is not an integer ≥ `min`.
 */
export function resumeCursor(req: Pick<Request, 'get' | 'query'>, opts: { min: number; code: string; meaning: string }): number | undefined {
  const header = req.get('last-event-id');
  const raw = (header ?? (typeof req.query.after === 'string' ? req.query.after : undefined))?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!/^-?\d{1,9}$/.test(raw) || Number(raw) < opts.min) {
    throw badRequest(opts.code, `${header !== undefined ? 'Last-Event-ID' : 'after'} must be ${opts.meaning} (an integer ≥ ${opts.min})`);
  }
  return Number(raw);
}
