import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import type { Registry } from 'prom-client';
import type { DrainState } from '../drain/types.js';

/**
 * Probes and metrics on their own port. It is never drained: the kubelet and Prometheus must see
 * every phase until the process exits.
 */
export function createAdminServer(opts: { registry: Registry; drain: DrainState; host: string; port: number }) {
  const { registry, drain } = opts;
  const scrapes = new EventEmitter();
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return json(res, 405, { error: { code: 'method_not_allowed', message: 'use GET' } });
    }
    switch (path) {
      case '/livez':
        return json(res, 200, { status: 'alive', state: drain.current });
      case '/readyz':
        return drain.current === 'serving'
          ? json(res, 200, { status: 'ready', state: drain.current })
          : json(res, 503, { status: 'not_ready', state: drain.current });
      case '/startupz':
        return drain.current === 'starting'
          ? json(res, 503, { status: 'starting' })
          : json(res, 200, { status: 'started', state: drain.current });
      case '/metrics': {
        const body = await registry.metrics();
        res.writeHead(200, { 'Content-Type': registry.contentType });
        res.once('finish', () => scrapes.emit('scrape'));
        return res.end(body);
      }
      default:
        return json(res, 404, { error: { code: 'not_found', message: `no route for ${path}` } });
    }
  });
  server.keepAliveTimeout = 5_000;
  return {
    server,
    /** Resolves true once /metrics has been served after this call, false if `signal` aborts first. */
    nextScrape: (signal: AbortSignal): Promise<boolean> =>
      once(scrapes, 'scrape', { signal }).then(
        () => true,
        () => false,
      ),
    listen: () =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port, opts.host, () => {
          server.off('error', reject);
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : opts.port);
        });
      }),
  };
}
