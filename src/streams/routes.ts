import type { Express, Router } from 'express';
import { notFound } from '../errors/errors.js';
import { apiKeyOf, ownerOf } from '../http/auth.js';
import { route } from '../http/routes.js';
import { issueTicket } from '../http/tickets.js';
import type { StreamManager } from './manager.js';
import { chatRequest, isStreamId, lastEventId, newStreamId } from './protocol.js';

export function mountStreamRoutes(api: Router, _app: Express, manager: StreamManager): void {
  route(api, '/chat/stream', {
    post: async (req, res) => {
      const request = chatRequest.parse(req.body);
      const id = newStreamId();
      // A browser's EventSource on GET /v1/streams/:id cannot send the key: it presents this instead.
      const key = apiKeyOf(res);
      if (key) res.setHeader('Lastcall-Stream-Ticket', issueTicket(key, id));
      await manager.start(ownerOf(res), request, res, id);
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
