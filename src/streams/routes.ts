import type { Express, Router } from 'express';
import { notFound } from '../errors/errors.js';
import { ownerOf } from '../http/auth.js';
import { route } from '../http/routes.js';
import type { StreamManager } from './manager.js';
import { chatRequest, isStreamId, lastEventId } from './protocol.js';

export function mountStreamRoutes(api: Router, app: Express, manager: StreamManager): void {
  // A browser EventSource cannot send an Authorization header, so GET /v1/streams/:id also takes
  // the key as `?key=` (the demo page passes its own `?key=` on). URLs end up in logs and
  // history: use it only where that is acceptable; the API itself keeps bearer auth.
  app.get('/v1/streams/:id', (req, _res, next) => {
    const key = req.query.key;
    if (typeof key === 'string' && key && !req.headers.authorization) req.headers.authorization = `Bearer ${key}`;
    next();
  });

  route(api, '/chat/stream', {
    post: async (req, res) => {
      await manager.start(ownerOf(res), chatRequest.parse(req.body), res);
    },
  });

  route(api, '/streams/:id', {
    get: async (req, res) => {
      const after = lastEventId(req);
      const id = req.params.id as string;
      if (!isStreamId(id)) throw notFound('stream');
      await manager.join(ownerOf(res), id, after, res);
    },
  });
}
