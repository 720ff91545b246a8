import type { Request, Response, Router } from 'express';
import { idempotencyKey } from '../db/idempotency.js';
import { badRequest, conflict } from '../errors/errors.js';
import type { Owner } from '../http/auth.js';
import { ownerOf } from '../http/auth.js';
import { requestSignal } from '../http/request-signal.js';
import { route } from '../http/routes.js';
import { answerText } from '../llm/upstream.js';
import {
  lastSequenceNumber,
  responseId,
  responseObject,
  responseStatus,
  type ResponseStatus,
} from '../streams/formats/responses.js';
import type { StreamManager } from '../streams/manager.js';
import { isStreamId, resumePosition } from '../streams/protocol.js';
import type { StreamRow } from '../streams/store.js';
import { untilAborted } from '../time/clock.js';
import { handedOff, responseNotFound } from './errors.js';
import type { ServedModels } from './models.js';
import { responseRequest, responseStreamRequest } from './responses-request.js';

/** Where a stream stands, as a Response's status: a background one nobody has generated for yet is queued. */
function statusOf(row: StreamRow): ResponseStatus {
  if (row.status !== 'generating') return responseStatus(row.finish ?? undefined);
  return row.request.responses?.background && row.lastSeq === 0 ? 'queued' : 'in_progress';
}

/**
 * The Responses API (https://platform.openai.com/docs/api-reference/responses) on lastcall's
 * durable streams: response `resp_<streamId>` is stream `<streamId>` with the `responses` format
 * (streams/formats/responses.ts renders its events, `sequence_number` a pure function of the
 * log). `background: true` makes it a detached stream: generated with nobody attached and taken
 * over by another replica at a handoff, as a task is. Any replica replays a stream from
 * `starting_after` and then follows it live; a replica that drains closes the connection after
 * the last event it sent, and the client resumes from there.
 */
export function mountResponseRoutes(api: Router, manager: StreamManager, models: ServedModels): void {
  /** The response `id` names, if `owner` owns it; anything else (another owner's, a chat stream) is a 404. */
  async function owned(owner: Owner, id: string): Promise<StreamRow> {
    const streamId = /^resp_(.+)$/.exec(id)?.[1];
    if (!streamId || !isStreamId(streamId)) throw responseNotFound(id);
    const row = await manager.store.get(streamId);
    if (!row || row.owner !== owner || row.format !== 'responses') throw responseNotFound(id);
    // `store: false`: nothing to retrieve once it is over (while it generates it is resumable, as every lastcall stream).
    if (row.request.responses?.store === false && row.status !== 'generating') throw responseNotFound(id);
    return row;
  }

  async function objectOf(row: StreamRow) {
    return responseObject(row, { status: statusOf(row), text: await manager.answer(row), outcome: row.finish ?? undefined });
  }

  const answer = async (res: Response, row: StreamRow) => void res.set('Lastcall-Stream-Id', row.id).json(await objectOf(row));

  route(api, '/responses', {
    post: async (req, res) => {
      const body = responseRequest.parse(req.body);
      models.chatModel(body.model);
      const request = responseStreamRequest(body);
      const owner = ownerOf(res);
      const background = request.responses?.background ?? false;
      const spec = { owner, request, format: 'responses' as const, detached: background, idempotency: idempotencyKey(req, body) };
      if (body.stream) return void (await manager.start(spec, { res }));
      if (background) {
        // Generated whether or not anyone waits: the answer is the response as it stands now.
        const started = await manager.start(spec, undefined);
        return answer(res, await manager.owned(owner, started.id));
      }
      const signal = requestSignal(res);
      const started = await manager.start(spec, { collect: signal });
      const collected = await Promise.race([started.collected, untilAborted(signal)]);
      if (!collected || signal.aborted) return;
      if (collected.kind === 'handed_off') throw handedOff(started.id);
      const row = await manager.owned(owner, started.id);
      const status = responseStatus(collected.outcome);
      res
        .set('Lastcall-Stream-Id', row.id)
        .json(responseObject(row, { status, text: answerText(collected.entries), outcome: collected.outcome }));
    },
  });

  route(api, '/responses/:id', {
    get: async (req, res) => {
      const owner = ownerOf(res);
      const row = await owned(owner, String(req.params.id));
      const stream = req.query.stream;
      if (stream !== undefined && stream !== 'true' && stream !== 'false') {
        throw badRequest('invalid_value', `Invalid value for 'stream': expected true or false.`, 'stream');
      }
      if (stream !== 'true') return answer(res, row);
      const after = startingAfter(req) ?? resumePosition(req);
      if (after !== undefined && row.status !== 'generating') {
        const last = lastSequenceNumber(row.lastSeq, statusOf(row));
        if (after > last) {
          throw badRequest(
            'invalid_value',
            `Invalid value for 'starting_after': ${after} is beyond the last event (${last}) of this finished response.`,
            'starting_after',
          );
        }
      }
      await manager.join(owner, row.id, after, res);
    },
    delete: async (req, res) => {
      const owner = ownerOf(res);
      const row = await owned(owner, String(req.params.id));
      await manager.delete(owner, row.id);
      res.json({ id: responseId(row.id), object: 'response', deleted: true });
    },
  });

  route(api, '/responses/:id/cancel', {
    post: async (req, res) => {
      const owner = ownerOf(res);
      const row = await owned(owner, String(req.params.id));
      // OpenAI: "Only responses created with the background parameter set to true can be cancelled."
      if (!row.request.responses?.background) {
        throw badRequest('invalid_request', 'Only responses created with background=true can be cancelled.');
      }
      // Cancelling twice returns the cancelled response, as OpenAI documents; a finished one is a conflict.
      if (row.status === 'cancelled') return answer(res, row);
      if (row.status !== 'generating') throw conflict('response_finished', `Cannot cancel a ${statusOf(row)} response.`);
      await answer(res, await manager.cancel(owner, row.id));
    },
  });
}

/** `starting_after`: the sequence number of the last event the client has, an integer ≥ 0. */
function startingAfter(req: Request): number | undefined {
  const raw = req.query.starting_after;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw)) {
    throw badRequest(
      'invalid_value',
      `Invalid value for 'starting_after': expected a non-negative integer (a sequence_number).`,
      'starting_after',
    );
  }
  return Number(raw);
}
