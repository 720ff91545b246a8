import type { Request, Router } from 'express';
import { z } from 'zod';
import { idempotencyKey } from '../db/idempotency.js';
import { ApiError, badRequest } from '../errors/errors.js';
import { ownerOf, type Owner } from '../http/auth.js';
import { requestSignal } from '../http/request-signal.js';
import { route } from '../http/routes.js';
import type { Logger } from '../log/logger.js';
import type { StreamManager } from '../streams/manager.js';
import { isStreamId } from '../streams/protocol.js';
import type { ChatStreams } from './chats.js';
import { aiSdkChatRequest, chatId, streamRequest } from './request.js';

/** Where the front door lives; `DefaultChatTransport`'s `api` option points here. */
export const AI_SDK_CHAT_PATH = '/ai-sdk/chat';

/**
 * The AI SDK front door on the stream service:
 * - `POST /v1/ai-sdk/chat`: what `DefaultChatTransport.sendMessages` sends; starts a detached
 *   durable stream (generation goes on when the client leaves: an abort is a disconnect), makes it
 *   the chat's active stream and answers with the UI message stream;
 * - `GET /v1/ai-sdk/chat/{chatId}/stream`: what `reconnectToStream` (and `useChat({resume: true})`)
 *   asks, the transport's default reconnect URL: 204 with nothing active, else the active stream
 *   from its start (or from chunk `?startIndex=N`), then live, on any replica;
 * - `POST /v1/ai-sdk/chat/{chatId}/stop`: the stop endpoint the AI SDK's docs ask for: cancels the
 *   generation wherever it runs, keeps the partial answer, clears the active stream.
 */
export function mountAiSdkRoutes(api: Router, deps: { manager: StreamManager; chats: ChatStreams; logger: Logger }): void {
  const { manager, chats, logger } = deps;

  route(api, AI_SDK_CHAT_PATH, {
    post: async (req, res) => {
      const body = aiSdkChatRequest.parse(req.body);
      const owner = ownerOf(res);
      let superseded: string | undefined;
      const started = await manager.start(
        {
          owner,
          request: streamRequest(body),
          format: 'ai_sdk',
          detached: true,
          idempotency: idempotencyKey(req, body),
          alsoInTransaction: async (c, id) => {
            superseded = await chats.activate(c, owner, body.id, id);
          },
        },
        { res },
      );
      // A chat has one answer being written: a new POST (the next message, a regenerate, an edit)
      // replaces the one still generating, which is cancelled with its partial answer kept.
      if (superseded && superseded !== started.id) {
        await cancelQuietly(manager, owner, superseded, logger);
      }
    },
  });

  route(api, `${AI_SDK_CHAT_PATH}/:chatId/stream`, {
    get: async (req, res) => {
      const id = pathChatId(req);
      const startIndex = parseStartIndex(req);
      const owner = ownerOf(res);
      const streamId = await chats.resumable(owner, id);
      if (requestSignal(res).aborted) return;
      if (!streamId) {
        res.status(204).end();
        return;
      }
      await manager.join(owner, streamId, startIndex, res);
    },
  });

  route(api, `${AI_SDK_CHAT_PATH}/:chatId/stop`, {
    post: async (req, res) => {
      const id = pathChatId(req);
      const body = stopRequest.parse(req.body ?? {});
      const owner = ownerOf(res);
      const current = await chats.current(owner, id);
      const named = body.activeStreamId?.replace(/^msg_/, '');
      // Nothing active, or a stop for an answer a newer POST already replaced: nothing to do.
      if (!current || (named !== undefined && named !== current)) {
        res.json({ success: true, stopped: false });
        return;
      }
      const status = await cancelQuietly(manager, owner, current, logger);
      await chats.clear(owner, id, current);
      res.json({ success: true, stopped: status === 'cancelled', stream_id: current, status });
    },
  });
}

/**
 * The stop endpoint's body, as the AI SDK's docs send it: `activeStreamId` (a stale stop, for an
 * answer already replaced, changes nothing; the assistant message's id `msg_<stream id>` works
 * too) and `assistantMessage`, which is ignored: the durable log already holds the partial answer,
 * including what was generated after the client's snapshot.
 */
const stopRequest = z.object({
  activeStreamId: z
    .string()
    .refine((s) => isStreamId(s.replace(/^msg_/, '')), 'must be a stream id (Lastcall-Stream-Id) or msg_<stream id>')
    .nullish()
    .transform((s) => s ?? undefined),
  assistantMessage: z.unknown().optional(),
});

/** Cancels a stream if it still generates; returns its status after. Never throws: the caller's answer is already decided. */
async function cancelQuietly(manager: StreamManager, owner: Owner, id: string, logger: Logger): Promise<string | undefined> {
  try {
    return (await manager.cancel(owner, id)).status;
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) return (await manager.owned(owner, id).catch(() => undefined))?.status;
    logger.warn({ stream: id, err: (err as Error).message }, 'could not cancel a chat stream');
    return undefined;
  }
}

function pathChatId(req: Request): string {
  const r = chatId.safeParse(String(req.params.chatId));
  if (!r.success) throw badRequest('invalid_request', `chatId: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

/** `?startIndex=N`: the number of chunks the client already has (the workflow transport's convention). */
function parseStartIndex(req: Request): number | undefined {
  const raw = req.query.startIndex;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw)) {
    throw badRequest('invalid_start_index', 'startIndex must be the number of chunks the client has (an integer ≥ 0)');
  }
  return Number(raw);
}
