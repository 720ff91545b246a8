import type { Router } from 'express';
import { idempotencyKey } from '../db/idempotency.js';
import { ownerOf } from '../http/auth.js';
import { requestSignal } from '../http/request-signal.js';
import { route } from '../http/routes.js';
import type { StreamManager } from '../streams/manager.js';
import { isFailure } from '../streams/protocol.js';
import { untilAborted } from '../time/clock.js';
import { chatCompletionRequest, chatStreamRequest } from './chat-request.js';
import { completionObject } from './completion.js';
import { handedOff, upstreamFailed } from './errors.js';
import type { ServedModels } from './models.js';

/**
 * `POST /v1/chat/completions`, streamed (chat.completion.chunk events, rendered from the durable
 * log by streams/formats/chat-completions.ts) or not (one `chat.completion` once the stream is
 * over). Either way the stream is lastcall's: `Lastcall-Stream-Id` names it, `GET
 * /v1/streams/:id` resumes it in the same chunks on any replica, and a retry with the same
 * `Idempotency-Key` joins it instead of paying the upstream twice.
 */
export function mountChatCompletionRoutes(api: Router, manager: StreamManager, models: ServedModels): void {
  route(api, '/chat/completions', {
    post: async (req, res) => {
      const body = chatCompletionRequest.parse(req.body);
      models.chatModel(body.model);
      const request = chatStreamRequest(body);
      const owner = ownerOf(res);
      const spec = {
        owner,
        request,
        format: 'chat_completions' as const,
        detached: false,
        idempotency: idempotencyKey(req, body),
      };
      if (body.stream) return void (await manager.start(spec, { res }));

      const signal = requestSignal(res);
      const started = await manager.start(spec, { collect: signal });
      const collected = await Promise.race([started.collected, untilAborted(signal)]);
      if (!collected || signal.aborted) return;
      // This replica stopped serving the stream before it was over: the SDK retries the 503 and,
      // with the same Idempotency-Key, joins the stream wherever it goes on.
      if (collected.kind === 'handed_off') throw handedOff(started.id);
      if (isFailure(collected.outcome)) {
        throw upstreamFailed(started.id, collected.outcome.error.code, collected.outcome.error.message);
      }
      const row = await manager.owned(owner, started.id);
      res
        .set('Lastcall-Stream-Id', started.id)
        .json(completionObject(row, collected.entries, collected.outcome, collected.lastSeq));
    },
  });
}
