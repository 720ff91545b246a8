import { randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';
import { withLogContext, type LogContext } from '../log/context.js';
import type { Logger } from '../log/logger.js';
import { routeLabel } from './routes.js';

/** A client's X-Request-Id is kept when it is a plain token; anything else is replaced by ours. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Query parameters that carry a credential: never logged. */
const SECRET_PARAMS = new Set(['key', 'ticket']);
/**
 * A path segment or query value is logged only when it is a plain token: anything else is client
 * payload (NULs, escapes, prose) that has no place in an operator's log.
 */
const PLAIN = /^[A-Za-z0-9._:~-]{0,128}$/;

/**
 * Gives every request an id (the client's `X-Request-Id`, or a new one), returns it, puts it on
 * every log line written while the request is served, and writes one access-log line when the
 * response ends: method, matched route, status, duration, bytes sent, with credentials in the
 * query redacted.
 */
export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : randomBytes(12).toString('base64url');
    res.setHeader('X-Request-Id', requestId);
    const started = performance.now();
    let bytes = 0;
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => typeof res;
    const count = (chunk: unknown) => {
      if (typeof chunk === 'string') bytes += Buffer.byteLength(chunk);
      else if (chunk instanceof Uint8Array) bytes += chunk.byteLength;
    };
    res.write = ((...args: unknown[]) => {
      count(args[0]);
      return write(...args);
    }) as typeof res.write;
    res.end = ((...args: unknown[]) => {
      if (typeof args[0] !== 'function') count(args[0]);
      return end(...args);
    }) as typeof res.end;
    const ctx: LogContext = { requestId };
    withLogContext(ctx, () => {
      res.once('close', () => {
        logger.info(
          {
            // The context is not the close event's own: name the request (and its stream or task) here.
            ...ctx,
            method: req.method,
            route: routeLabel(res),
            path: redactedPath(req.originalUrl),
            status: res.statusCode,
            durationMs: Math.round(performance.now() - started),
            bytes,
            completed: res.writableFinished,
          },
          'request',
        );
      });
      next();
    });
  };
}

function redactedPath(url: string): string {
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q))
    .split('/')
    .map((segment) => (PLAIN.test(segment) ? segment : '[unprintable]'))
    .join('/');
  if (q < 0) return path;
  const query = [...new URLSearchParams(url.slice(q + 1))]
    .map(([name, value]) => {
      const shown = SECRET_PARAMS.has(name) ? '[redacted]' : PLAIN.test(value) ? value : '[unprintable]';
      return `${PLAIN.test(name) ? name : '[unprintable]'}=${shown}`;
    })
    .join('&');
  return `${path}?${query}`;
}
