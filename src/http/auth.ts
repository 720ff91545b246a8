import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { ApiError } from '../errors/errors.js';
import type { HttpMetrics } from '../metrics/http.js';
import { sendError } from './errors.js';

/** Who owns a resource: a digest of the caller's key (never the key itself), or `public`. */
export type Owner = string;

export const PUBLIC_OWNER: Owner = 'public';

const digest = (key: string) => createHash('sha256').update(key).digest();

/**
 * Optional bearer-key auth. With no keys configured the API is open and every resource belongs
 * to `public`; with keys, each resource belongs to the key that created it.
 */
export function bearerAuth(keys: readonly string[], metrics: HttpMetrics): RequestHandler {
  const known = keys.map(digest);
  return (req, res, next) => {
    if (known.length === 0) {
      res.locals.owner = PUBLIC_OWNER;
      return next();
    }
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const presented = match?.[1] ? digest(match[1]) : undefined;
    if (!presented || !known.some((k) => timingSafeEqual(k, presented))) {
      metrics.rejected.inc({ reason: 'unauthorized' });
      return sendError(
        res,
        new ApiError(401, 'unauthorized', 'missing or unknown bearer key', { 'WWW-Authenticate': 'Bearer' }),
      );
    }
    res.locals.owner = `key:${presented.toString('hex').slice(0, 16)}`;
    next();
  };
}

export function ownerOf(res: Response): Owner {
  const owner = res.locals.owner as Owner | undefined;
  if (!owner) throw new Error('ownerOf called on a route without auth');
  return owner;
}
