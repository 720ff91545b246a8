import http from 'node:http';
import express from 'express';
import type { Feature } from '../feature.js';
import type { Config } from '../config/load.js';
import type { DrainState, Participant } from '../drain/types.js';
import type { Logger } from '../log/logger.js';
import type { HttpMetrics } from '../metrics/http.js';
import { ApiError } from '../errors/errors.js';
import { bearerAuth } from './auth.js';
import { ConnectionTracker } from './connections.js';
import { errorHandler, notFoundHandler, sendError } from './errors.js';
import { intake } from './intake.js';
import { bindRequestSignal } from './request-signal.js';

export interface PublicServer {
  readonly server: http.Server;
  readonly connections: ConnectionTracker;
  listen(): Promise<number>;
  readonly participants: readonly Participant[];
}

export function createPublicServer(opts: {
  config: Config;
  drain: DrainState;
  metrics: HttpMetrics;
  logger: Logger;
  features: readonly Feature[];
}): PublicServer {
  const { config, drain, metrics, logger } = opts;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(bindRequestSignal);
  app.use(intake(drain, metrics));

  const api = express.Router();
  api.use(bearerAuth(config.apiKeys, metrics));
  api.use((req, res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody && !req.is('application/json')) {
      return sendError(res, new ApiError(415, 'unsupported_media_type', 'request body must be application/json'));
    }
    next();
  });
  api.use(express.json({ limit: config.MAX_BODY_BYTES, strict: true }));
  for (const f of opts.features) f.mount?.(api, app);
  app.use('/v1', api);
  app.use(notFoundHandler);
  app.use(errorHandler(logger, config.MAX_BODY_BYTES));

  const server = http.createServer({ requestTimeout: 0, keepAliveTimeout: 65_000 }, app);
  // Long SSE responses must not be cut by Node's default timeouts; the drain owns their end.
  server.headersTimeout = 30_000;
  const connections = new ConnectionTracker(server);

  const participants: Participant[] = [
    {
      name: 'public-http:stop-intake',
      phase: 'stop-intake',
      async close() {
        connections.stopAccepting();
        return { socketsOpen: connections.sockets, requestsInFlight: connections.requestsInFlight };
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
    server,
    connections,
    participants,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.PORT, config.HOST, () => {
          server.off('error', reject);
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : config.PORT);
        });
      }),
  };
}
