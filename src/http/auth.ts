import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { ApiKey, AuthConfig } from '../config/load.js';
import { ApiError } from '../errors/errors.js';
import type { HttpMetrics } from '../metrics/http.js';
import { sendError } from './errors.js';
import { verifyTicket } from './tickets.js';

/** Who owns a resource: the key's name, a digest of a bare key (never the key itself), or `public`. */
export type Owner = string;

export const PUBLIC_OWNER: Owner = 'public';

/** The only route a stream ticket (or an opted-in `?key=`) opens: an EventSource's stream URL. */
const STREAM_ROUTE = '/v1/streams/:id';

const digest = (key: string) => createHash('sha256').update(key).digest();

/**
 * Bearer-key auth. With no keys configured (and an open API chosen) every resource belongs to
 * `public`; with keys, each resource belongs to the owner of the key that created it. On the
 * stream route a browser may present a ticket for that stream instead (`?ticket=`), or, only
 * where ALLOW_KEY_IN_QUERY opts in, the key itself as `?key=`.
 */
export function bearerAuth(auth: AuthConfig, metrics: HttpMetrics): RequestHandler {
  const known = auth.keys.map((k) => ({ k, d: digest(k.key) }));
  const byKey = (presented: string | undefined): ApiKey | undefined => {
    if (!presented) return undefined;
    const d = digest(presented);
    return known.find((x) => timingSafeEqual(x.d, d))?.k;
  };
  return (req, res, next) => {
    if (known.length === 0) {
      res.locals.owner = PUBLIC_OWNER;
      return next();
    }
    const match = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    const key = match ? byKey(match[1]) : fromQuery(req, res);
    if (!key) {
      metrics.rejected.inc({ reason: 'unauthorized' });
      return sendError(res, new ApiError(401, 'unauthorized', 'missing or unknown bearer key', { 'WWW-Authenticate': 'Bearer' }));
    }
    res.locals.owner = key.owner;
    res.locals.apiKey = key;
    next();
  };

  function fromQuery(req: Request, res: Response): ApiKey | undefined {
    if (res.locals.route !== STREAM_ROUTE) return undefined;
    const { ticket, key } = req.query;
    if (typeof ticket === 'string') return verifyTicket(auth.keys, String(req.params.id), ticket);
    if (typeof key === 'string' && auth.allowKeyInQuery) return byKey(key);
    return undefined;
  }
}

export function ownerOf(res: Response): Owner {
  const owner = res.locals.owner as Owner | undefined;
  if (!owner) throw new Error('ownerOf called on a route without auth');
  return owner;
}

/** The key the caller authenticated with; undefined on an open API. */
export function apiKeyOf(res: Response): ApiKey | undefined {
  return res.locals.apiKey as ApiKey | undefined;
}
