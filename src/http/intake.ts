import type { RequestHandler } from 'express';
import type { DrainState } from '../drain/types.js';
import type { HttpMetrics } from '../metrics/http.js';
import { unavailable } from '../errors/errors.js';
import { sendError } from './errors.js';
import { routeLabel } from './routes.js';

/** Retry-After for requests refused while draining: another replica can take them at once. */
export const DRAINING_RETRY_AFTER_SECONDS = 1;

/**
 * Counts requests in flight and applies the drain phases to new ones: during `announce` they are
 * served normally but told to reconnect (Connection: close moves keep-alive clients to a ready
 * replica); from `stop-intake` on they are refused with 503 + Retry-After.
 */
export function intake(drain: DrainState, metrics: HttpMetrics): RequestHandler {
  return (req, res, next) => {
    if (drain.draining) res.setHeader('Connection', 'close');
    if (drain.reached('stop-intake')) {
      metrics.rejected.inc({ reason: 'draining' });
      return sendError(
        res,
        unavailable(
          'draining',
          'this replica is shutting down; retry and another replica will answer',
          DRAINING_RETRY_AFTER_SECONDS,
        ),
      );
    }
    metrics.inFlight.inc();
    res.once('close', () => {
      metrics.inFlight.dec();
      metrics.requests.inc({ route: routeLabel(res), code: `${Math.floor(res.statusCode / 100)}xx` });
    });
    next();
  };
}
