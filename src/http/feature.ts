import http from 'node:http';
import type { Duplex } from 'node:stream';
import express, { type RequestHandler } from 'express';
import type { HttpConfig } from '../config/load.js';
import type { Participant } from '../drain/types.js';
import type { CoreDeps, Feature } from '../feature.js';
import type { HttpMetrics } from '../metrics/http.js';
import { ApiError, unavailable } from '../errors/errors.js';
import { bearerAuth } from './auth.js';
import { ConnectionTracker } from './connections.js';
import { errorHandler, errorStyleFor, notFoundHandler, sendError } from './errors.js';
import { DRAINING_RETRY_AFTER_SECONDS, intake } from './intake.js';
import { rateLimit } from './rate-limit.js';
import { mountedRouter } from './routes.js';
import { accessLog } from './access-log.js';
import { bindRequestSignal } from './request-signal.js';
import { traceRequest } from './trace-request.js';

export interface HttpDeps extends CoreDeps {
  readonly httpMetrics: HttpMetrics;
  /** The features whose routes it serves. */
  readonly features: readonly Feature[];
}

export interface HttpFeature extends Feature {
  readonly server: http.Server;
  listen(): Promise<number>;
}

/** Request bodies are JSON in UTF-8 (RFC 8259); body-parser alone would also decode UTF-16/32 and even UTF-7. */
const jsonOnly: RequestHandler = (req, res, next) => {
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (!hasBody) return next();
  if (!req.is('application/json')) {
    return sendError(res, new ApiError(415, 'unsupported_media_type', 'request body must be application/json'));
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.get('content-type') ?? '')?.[1]?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    return sendError(res, new ApiError(415, 'unsupported_charset', `charset ${charset} is not supported; send UTF-8 JSON`));
  }
  next();
};

/**
 * What Node's HTTP parser refuses before the app sees a request (bad header bytes, oversized
 * headers, conflicting lengths, a request deadline): the same JSON error shape as every other
 * answer, instead of Node's bare status line.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return writeRawError(socket, 408, 'request_timeout', 'the request was not received in time');
  if (err.code === 'HPE_HEADER_OVERFLOW') return writeRawError(socket, 431, 'headers_too_large', 'request headers are too large');
  writeRawError(socket, 400, 'bad_request', 'the request is not valid HTTP/1.1');
}

function writeRawError(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The public API server: every feature's routes behind auth, its sockets drained with the phases. */
export function createHttpFeature(deps: HttpDeps, config: HttpConfig): HttpFeature {
  const { drain, httpMetrics: metrics, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(bindRequestSignal);
  app.use(accessLog(logger.child({ log: 'access' })));
  app.use(traceRequest);
  const openAiPaths = deps.features.flatMap((f) => f.openAiPaths ?? []);
  if (openAiPaths.length > 0) app.use(openAiPaths, errorStyleFor('openai'));
  app.use((req, res, next) => {
    if (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1 && !req.headers.host) {
      return sendError(res, new ApiError(400, 'bad_request', 'an HTTP/1.1 request needs a Host header'));
    }
    next();
  });
  app.use(intake(drain, metrics));

  const api = mountedRouter('/v1', [
    bearerAuth(config.auth, metrics),
    rateLimit(config.rate, metrics),
    jsonOnly,
    express.json({ limit: config.maxBodyBytes, strict: true }),
  ]);
  for (const f of deps.features) f.mount?.(api, app);
  app.use('/v1', api);
  app.use(notFoundHandler);
  app.use(errorHandler(logger, config.maxBodyBytes));

  // requestTimeout bounds receiving the request only: a long SSE response is not cut by it, the
  // drain owns its end. A body trickled a byte at a time gets 408 instead of holding a slot.
  const server = http.createServer(
    {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.headersTimeoutMs,
      keepAliveTimeout: 65_000,
      // Node checks those deadlines on this interval (default 30 s): check often enough to keep them.
      connectionsCheckingInterval: 1_000,
      // Node would answer a missing Host with a bare 400; the app answers it in its JSON shape.
      requireHostHeader: false,
    },
    app,
  );
  server.maxConnections = config.maxConnections;
  server.on('clientError', answerClientError);
  server.on('checkExpectation', (_req: http.IncomingMessage, res: http.ServerResponse) =>
    sendError(res, new ApiError(417, 'expectation_failed', 'only Expect: 100-continue is supported')),
  );
  // CONNECT is not routed by Express: without this the socket would just be dropped.
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex) =>
    writeRawError(socket, 405, 'method_not_allowed', 'CONNECT is not supported'),
  );
  server.on('drop', () => metrics.rejected.inc({ reason: 'too_many_connections' }));
  const connections = new ConnectionTracker(server, {
    firstRequestMs: config.headersTimeoutMs,
    counted: (open) => metrics.connections.set(open),
  });

  const participants: Participant[] = [
    {
      name: 'public-http:stop-intake',
      phase: 'stop-intake',
      async close() {
        connections.stopAccepting();
        // A request whose body is still arriving has had nothing done for it: refuse it now, as
        // a new request would be, rather than let a slow client hold the drain to its budget.
        const cut = connections.incomplete();
        for (const { req, res } of cut) {
          metrics.rejected.inc({ reason: 'draining' });
          res.setHeader('Connection', 'close');
          sendError(
            res,
            unavailable(
              'draining',
              'this replica is shutting down; retry and another replica will answer',
              DRAINING_RETRY_AFTER_SECONDS,
            ),
          );
          res.once('finish', () => req.socket.destroy());
        }
        return { socketsOpen: connections.sockets, requestsInFlight: connections.requestsInFlight, bodiesCut: cut.length };
      },
    },
    {
      name: 'public-http:drain',
      phase: 'drain',
      async close(deadline) {
        await connections.whenIdle(deadline.signal);
        return { requestsInFlight: connections.requestsInFlight };
      },
    },
    {
      name: 'public-http:release',
      phase: 'release',
      async close() {
        return { socketsDestroyed: connections.destroyAll() };
      },
    },
  ];

  return {
    name: 'http',
    server,
    participants,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : config.port);
        });
      }),
  };
}
