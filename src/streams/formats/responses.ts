import { sseFrame } from '../../http/sse.js';
import { isFailure, type Outcome, type StreamRequest, type Usage } from '../protocol.js';
import type { Format, StreamInfo } from '../render.js';

/** A stream's ids in the Responses API: the same on every replica. */
export const responseId = (streamId: string) => `resp_${streamId}`;
const messageId = (streamId: string) => `msg_${streamId}`;

/** Events before the first delta: created, in_progress, output_item.added, content_part.added. */
const OPENING = 4;
/** Events after the last delta of a completed answer: output_text.done, content_part.done, output_item.done, completed. */
const CLOSING = 4;

/** The sequence number of the last event of a response finished at log entry `lastSeq`. */
export function lastSequenceNumber(lastSeq: number, status: ResponseStatus): number {
  return OPENING - 1 + lastSeq + (status === 'completed' || status === 'incomplete' ? CLOSING : 1);
}

export type ResponseStatus = 'queued' | 'in_progress' | 'completed' | 'incomplete' | 'failed' | 'cancelled';

/** What a response object shows of where its stream stands. */
export interface ResponseState {
  readonly status: ResponseStatus;
  readonly text: string;
  readonly outcome: Outcome | undefined;
}

export function responseStatus(outcome: Outcome | undefined): ResponseStatus {
  if (!outcome) return 'in_progress';
  if (isFailure(outcome)) return 'failed';
  if (outcome.finish_reason === 'cancelled') return 'cancelled';
  return outcome.finish_reason === 'length' ? 'incomplete' : 'completed';
}

const usageOf = (u: Usage | undefined) =>
  u
    ? {
        input_tokens: u.prompt_tokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: u.completion_tokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: u.total_tokens,
      }
    : null;

/**
 * The Response object (https://platform.openai.com/docs/api-reference/responses/object) of a
 * stream: what `GET /v1/responses/{id}` returns and what the created/terminal events carry.
 */
export function responseObject(stream: StreamInfo, state: ResponseState) {
  const req: StreamRequest = stream.request;
  const done = state.status !== 'queued' && state.status !== 'in_progress';
  const outcome = state.outcome;
  return {
    id: responseId(stream.id),
    object: 'response',
    created_at: Math.floor(stream.createdAt.getTime() / 1000),
    status: state.status,
    background: req.responses?.background ?? false,
    error: outcome && isFailure(outcome) ? { code: outcome.error.code, message: outcome.error.message } : null,
    incomplete_details: state.status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: req.responses?.instructions ?? req.instructions ?? null,
    max_output_tokens: req.max_tokens,
    metadata: req.responses?.metadata ?? {},
    model: req.model ?? 'unknown',
    output: state.text || done ? [messageItem(stream.id, state.text, itemStatus(state.status))] : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    store: req.responses?.store ?? true,
    temperature: req.temperature ?? 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: req.top_p ?? 1,
    truncation: 'disabled',
    usage: outcome && !isFailure(outcome) ? usageOf(outcome.usage) : null,
    user: req.user ?? null,
  };
}

type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

/** The message item's own status: cut by max_output_tokens, it is incomplete too (as OpenAI marks it). */
const itemStatus = (status: ResponseStatus): ItemStatus =>
  status === 'queued' || status === 'in_progress' ? 'in_progress' : status === 'incomplete' ? 'incomplete' : 'completed';

function messageItem(streamId: string, text: string, status: ItemStatus) {
  return {
    id: messageId(streamId),
    type: 'message',
    status,
    role: 'assistant',
    content: status !== 'in_progress' || text ? [{ type: 'output_text', text, annotations: [] }] : [],
  };
}

/**
 * The Responses API's streaming events (https://platform.openai.com/docs/api-reference/responses-streaming),
 * with a gap-free `sequence_number` from 0 that is a pure function of the log: 0–3 open the
 * response, log entry k is `response.output_text.delta` number 3 + k, and a finished stream's
 * closing events follow. So `starting_after=N` resumes on any replica, replaying from the log then
 * following live, and the SSE id is the sequence number too. A replica that hands off just ends
 * the connection after the last event it sent: the client resumes with `starting_after`, as
 * OpenAI documents for background responses. The API cannot take back text it streamed, so a
 * `reset` fails the response instead (policy `fail`).
 */
export const responsesFormat: Format = {
  onReset: 'fail',
  renderer: (stream: StreamInfo, position) => {
    const after = position ?? -1;
    const at = { item_id: messageId(stream.id), output_index: 0, content_index: 0 };
    const event = (sn: number, body: { type: string; [k: string]: unknown }) =>
      sn > after ? sseFrame({ ...body, sequence_number: sn }, { event: body.type, id: sn }) : '';
    const opened = (status: ResponseStatus) => responseObject(stream, { status, text: '', outcome: undefined });
    return {
      headers: {},
      retryMs: undefined,
      // Delta number n is log entry n - 3. The cursor stays a closing stretch lower, so a client
      // holding some of a finished response's closing events is never "ahead of the log"; the
      // entries it already has render to nothing (every event is filtered by its number).
      cursor: Math.max(0, after - (OPENING - 1) - CLOSING),
      opening: () =>
        // A background response is queued when created, as OpenAI's are (https://platform.openai.com/docs/guides/background).
        event(0, {
          type: 'response.created',
          response: opened(stream.request.responses?.background ? 'queued' : 'in_progress'),
        }) +
        event(1, { type: 'response.in_progress', response: opened('in_progress') }) +
        event(2, { type: 'response.output_item.added', output_index: 0, item: messageItem(stream.id, '', 'in_progress') }) +
        event(3, { type: 'response.content_part.added', ...at, part: { type: 'output_text', text: '', annotations: [] } }),
      entry: (e) =>
        e.kind === 'text'
          ? event(OPENING - 1 + e.seq, { type: 'response.output_text.delta', ...at, delta: e.text, logprobs: [] })
          : '',
      finalNeedsAnswer: true,
      final(lastSeq, outcome, answer) {
        const sn = OPENING + lastSeq;
        const status = responseStatus(outcome);
        const response = responseObject(stream, { status, text: answer, outcome });
        if (status === 'failed' || status === 'cancelled') return event(sn, { type: `response.${status}`, response });
        const part = { type: 'output_text', text: answer, annotations: [] };
        return (
          event(sn, { type: 'response.output_text.done', ...at, text: answer, logprobs: [] }) +
          event(sn + 1, { type: 'response.content_part.done', ...at, part }) +
          event(sn + 2, {
            type: 'response.output_item.done',
            output_index: 0,
            item: messageItem(stream.id, answer, itemStatus(status)),
          }) +
          event(sn + 3, { type: `response.${status}`, response })
        );
      },
      handoff: () => '',
    };
  },
};
