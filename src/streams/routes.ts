import type { Router } from 'express';
import { idempotencyKey } from '../db/idempotency.js';
import { notFound } from '../errors/errors.js';
import { apiKeyOf, ownerOf } from '../http/auth.js';
import { route } from '../http/routes.js';
import { issueTicket } from '../http/tickets.js';
import type { StreamManager } from './manager.js';
import { chatRequest, isStreamId, resumePosition } from './protocol.js';

/** lastcall's own stream API: start one, join or resume one on any replica, cancel one. */
export function mountStreamRoutes(api: Router, manager: StreamManager): void {
  route(api, '/chat/stream', {
    post: async (req, res) => {
      const request = chatRequest.parse(req.body);
      const key = apiKeyOf(res);
      await manager.start(
        { owner: ownerOf(res), request, format: 'native', detached: false, idempotency: idempotencyKey(req, request) },
        {
          res,
          // A browser's EventSource on GET /v1/streams/:id cannot send the key: it presents this instead.
          headers: (id): Record<string, string> => (key ? { 'Lastcall-Stream-Ticket': issueTicket(key, id) } : {}),
        },
      );
    },
  });

  route(api, '/streams/:id', {
    get: async (req, res) => {
      const position = resumePosition(req);
      await manager.join(ownerOf(res), streamId(req.params.id), position, res);
    },
    delete: async (req, res) => {
      const row = await manager.cancel(ownerOf(res), streamId(req.params.id));
      res.json({ id: row.id, object: 'stream', status: row.status, last_event_id: row.lastSeq });
    },
  });
}

function streamId(raw: unknown): string {
  const id = String(raw);
  if (!isStreamId(id)) throw notFound('stream');
  return id;
}
