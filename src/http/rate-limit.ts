import type { RequestHandler } from 'express';
import { tooManyRequests } from '../errors/errors.js';
import type { HttpMetrics } from '../metrics/http.js';
import { sendError } from './errors.js';

export interface RateLimit {
  /** Requests that start work per second, per key, on one replica. */
  readonly perSecond: number;
  /** How many may come at once after a quiet spell. */
  readonly burst: number;
}

/** Owners tracked at once; buckets that have refilled are forgotten first. */
const MAX_OWNERS = 10_000;

/**
 * A token bucket per key for every POST (each starts work: a generation, a task, embeddings).
 * Per replica and in memory: across N replicas behind a Service a key gets about N times the rate,
 * which still bounds what one key can make one replica do.
 */
export function rateLimit(limit: RateLimit, metrics: HttpMetrics): RequestHandler {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (req, res, next) => {
    if (req.method !== 'POST') return next();
    const owner = String(res.locals.owner);
    const now = performance.now();
    const b = buckets.get(owner) ?? { tokens: limit.burst, at: now };
    b.tokens = Math.min(limit.burst, b.tokens + ((now - b.at) / 1000) * limit.perSecond);
    b.at = now;
    buckets.delete(owner);
    buckets.set(owner, b);
    if (buckets.size > MAX_OWNERS) buckets.delete(buckets.keys().next().value!);
    if (b.tokens < 1) {
      metrics.rejected.inc({ reason: 'rate_limited' });
      const wait = Math.ceil((1 - b.tokens) / limit.perSecond);
      return sendError(res, tooManyRequests(`this key is over ${limit.perSecond} requests per second on this replica`, wait));
    }
    b.tokens -= 1;
    next();
  };
}
