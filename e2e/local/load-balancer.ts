import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One backend as the Service sees it. */
export interface Endpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface LoadBalancerStats {
  forwarded: number;
  /** Requests answered 502 (backend refused or broke before answering) or 503 (no endpoints). */
  failed: number;
  /** Responses cut after their headers went out (the backend connection broke mid-body). */
  cut: number;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) are per connection and never forwarded.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-authenticate',
]);

function forwardable(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

/**
 * The Service: an HTTP load balancer routing each request round-robin to the endpoints it
 * currently knows. It learns endpoint changes only through `setEndpoints` — the driver applies
 * them after a propagation lag, as kube-proxy would — so it can still route to a pod that is
 * already shutting down. What it cannot forward ends as a reset connection, as through kube-proxy.
 * Bodies are piped both ways without buffering, so SSE streams through token by token.
 */
export class LoadBalancer {
  readonly stats: LoadBalancerStats = { forwarded: 0, failed: 0, cut: 0 };
  private endpoints: Endpoint[] = [];
  private next = 0;
  private readonly server: http.Server;

  constructor() {
    this.server = http.createServer((req, res) => this.forward(req, res));
    this.server.keepAliveTimeout = 5_000;
    // Long streams: never time a request out at the Service.
    this.server.requestTimeout = 0;
  }

  listen(host = '127.0.0.1'): Promise<string> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host, () => resolve(`http://${host}:${(this.server.address() as AddressInfo).port}`));
    });
  }

  setEndpoints(endpoints: readonly Endpoint[]): void {
    this.endpoints = [...endpoints];
  }

  currentEndpoints(): readonly Endpoint[] {
    return this.endpoints;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private pick(): Endpoint | undefined {
    if (this.endpoints.length === 0) return undefined;
    const ep = this.endpoints[this.next % this.endpoints.length];
    this.next = (this.next + 1) % 1_000_000;
    return ep;
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const ep = this.pick();
    if (!ep) {
      // kube-proxy rejects connections to a Service with no endpoints: the client sees a
      // refused/reset connection, not an HTTP answer.
      this.stats.failed++;
      return void req.socket.destroy();
    }
    this.stats.forwarded++;
    const upstream = http.request({
      host: ep.host,
      port: ep.port,
      method: req.method,
      path: req.url,
      headers: { ...forwardable(req.headers), 'x-forwarded-for': req.socket.remoteAddress ?? '' },
      // A connection per request, as kube-proxy gives each client connection its own: a pooled
      // socket the backend already closed would turn into a 502 no cluster would produce.
      agent: false,
    });
    upstream.on('response', (up) => {
      const headers = forwardable(up.headers);
      // The backend's `Connection: close` (draining) must reach the client so it reconnects.
      if (up.headers.connection?.toLowerCase() === 'close') headers.connection = 'close';
      res.writeHead(up.statusCode ?? 502, headers);
      res.flushHeaders();
      up.pipe(res);
      up.on('error', () => undefined);
      up.on('aborted', () => this.cut(res));
      up.on('close', () => {
        if (!up.complete) this.cut(res);
      });
    });
    upstream.on('error', () => {
      if (res.headersSent) return this.cut(res);
      // An L4 Service forwarding to a dead pod gives the client a refused/reset connection,
      // never an HTTP 502; clients retry what never got an answer.
      this.stats.failed++;
      req.socket.destroy();
    });
    // The client went away: stop the backend request too (the service sees the disconnect).
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  private cut(res: http.ServerResponse): void {
    if (res.destroyed) return;
    this.stats.cut++;
    res.destroy();
  }
}
