import type { RequestHandler, Router } from 'express';
import { methodNotAllowed } from './errors.js';

type Method = 'get' | 'post' | 'put' | 'delete';

/** Mounts handlers on a path and answers every other method with 405 + Allow. */
export function route(router: Router, path: string, handlers: Partial<Record<Method, RequestHandler>>): void {
  const r = router.route(path);
  const allowed: string[] = [];
  for (const [method, handler] of Object.entries(handlers) as [Method, RequestHandler][]) {
    r[method](handler);
    allowed.push(method.toUpperCase());
  }
  if (allowed.includes('GET')) allowed.push('HEAD');
  r.all(methodNotAllowed(allowed));
}
