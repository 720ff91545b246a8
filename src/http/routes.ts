import express, { type RequestHandler, type Router } from 'express';
import { methodNotAllowed } from './errors.js';

type Method = 'get' | 'post' | 'put' | 'delete';

/**
 * Per router: the path it is mounted at, so a route's metric label is its whole template, and
 * what runs on every matched request before its handler (auth, body parsing). These run after the
 * match, so a request that fails in them is still counted under its route.
 */
const mounts = new WeakMap<Router, { readonly prefix: string; readonly before: readonly RequestHandler[] }>();

/** A router that will be mounted at `prefix` (e.g. the API at /v1). */
export function mountedRouter(prefix: string, before: readonly RequestHandler[] = []): Router {
  const router = express.Router();
  mounts.set(router, { prefix, before });
  return router;
}

/** The route template a request matched (e.g. `/v1/streams/:id`), or `unmatched`. */
export function routeLabel(res: { locals: Record<string, unknown> }): string {
  return typeof res.locals.route === 'string' ? res.locals.route : 'unmatched';
}

/**
 * Mounts handlers on a path and answers every other method with 405 + Allow. The template is
 * recorded as the request's route when it matches, whatever later fails, so the metric label is
 * the same for a success and for every error on that route.
 */
export function route(router: Router, path: string, handlers: Partial<Record<Method, RequestHandler>>): void {
  const r = router.route(path);
  const mount = mounts.get(router);
  const label = `${mount?.prefix ?? ''}${path}`;
  r.all(
    (_req, res, next) => {
      res.locals.route = label;
      next();
    },
    ...(mount?.before ?? []),
  );
  const allowed: string[] = [];
  for (const [method, handler] of Object.entries(handlers) as [Method, RequestHandler][]) {
    r[method](handler);
    allowed.push(method.toUpperCase());
  }
  if (allowed.includes('GET')) allowed.push('HEAD');
  r.all(methodNotAllowed(allowed));
}
