/** Server-sent events, as every long-lived response of the public API writes them. */

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
