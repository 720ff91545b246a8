import { sseFrame } from '../../http/sse.js';
import { isFailure, type Outcome, type StreamRequest } from '../protocol.js';
import type { Format, StreamInfo } from '../render.js';

/** The id of a chat completion: the same on every replica, so a resumed stream keeps it. */
export const completionId = (streamId: string) => `chatcmpl-${streamId}`;

/** The upstream's finish reasons as OpenAI's (a stream cancelled by its owner has its own). */
const finishReason = (outcome: Outcome) => (isFailure(outcome) ? 'stop' : outcome.finish_reason);

/**
 * OpenAI's chat.completion.chunk events (`POST /v1/chat/completions` with `stream: true`), so
 * the official SDKs read a lastcall stream unchanged: one chunk per log entry (content deltas,
 * tool_calls deltas), the finish chunk, the usage chunk when asked for
 * (`stream_options.include_usage`), then `data: [DONE]`
 * (https://platform.openai.com/docs/api-reference/chat-streaming). Every chunk carries the
 * entry's sequence number as SSE id, so `GET /v1/streams/:id` with Last-Event-ID resumes in
 * the same format on any replica.
 *
 * A handoff ends the connection with an OpenAI-shaped error chunk naming the stream: the SDK
 * raises it as an error instead of ending a truncated answer silently. A `reset` (the answer
 * starting over after a takeover the upstream could not continue) is a chunk with no choices and
 * a `lastcall_reset` field, which the SDKs pass through untouched.
 */
export const chatCompletionsFormat: Format = {
  onReset: 'render',
  renderer: (stream: StreamInfo, position) => {
    const req: StreamRequest = stream.request;
    const base = {
      id: completionId(stream.id),
      object: 'chat.completion.chunk',
      created: Math.floor(stream.createdAt.getTime() / 1000),
      model: req.model ?? 'unknown',
      ...(req.include_usage ? { usage: null } : {}),
    };
    const choice = (delta: object, finish: string | null = null) => [{ index: 0, delta, logprobs: null, finish_reason: finish }];
    // A text chunk is written once per token: its JSON around the content is the same every time.
    const textChunk = JSON.stringify({ ...base, choices: choice({ content: '' }) });
    const at = textChunk.lastIndexOf('"content":""') + '"content":'.length;
    const [before, after] = [textChunk.slice(0, at), textChunk.slice(at + 2)];
    const cursor = position ?? 0;
    return {
      headers: {},
      retryMs: undefined,
      cursor,
      // The role comes first, as OpenAI sends it (id 0: every chunk has an id); a client resuming
      // mid-stream has it already.
      opening: () => (cursor === 0 ? sseFrame({ ...base, choices: choice({ role: 'assistant', content: '' }) }, { id: 0 }) : ''),
      entry(e) {
        switch (e.kind) {
          case 'text':
            return `id: ${e.seq}\ndata: ${before}${JSON.stringify(e.text)}${after}\n\n`;
          case 'tool': {
            const call = {
              index: e.index,
              ...(e.id !== undefined && { id: e.id, type: 'function' }),
              function: { ...(e.name !== undefined && { name: e.name }), arguments: e.arguments },
            };
            return sseFrame({ ...base, choices: choice({ tool_calls: [call] }) }, { id: e.seq });
          }
          case 'reset':
            return sseFrame(
              { ...base, choices: [], lastcall_reset: { reason: 'upstream_cannot_continue', stream_id: stream.id } },
              { id: e.seq },
            );
        }
      },
      finalNeedsAnswer: false,
      // The closing chunks (finish, then usage when asked for) share id lastSeq + 1: a client that
      // resumes with that id has them, and gets only `[DONE]`.
      final(lastSeq, outcome) {
        const id = lastSeq + 1;
        const has = cursor >= id;
        if (isFailure(outcome)) {
          if (has) return '';
          const error = { message: outcome.error.message, type: 'server_error', param: null, code: outcome.error.code };
          return sseFrame({ error }, { id });
        }
        if (has) return sseFrame('[DONE]');
        const usage = req.include_usage && outcome.usage ? sseFrame({ ...base, choices: [], usage: outcome.usage }, { id }) : '';
        return sseFrame({ ...base, choices: choice({}, finishReason(outcome)) }, { id }) + usage + sseFrame('[DONE]');
      },
      handoff: (reason, lastSeq) =>
        sseFrame({
          error: {
            message:
              `this replica handed stream ${stream.id} off (${reason}); resume it with GET /v1/streams/${stream.id} ` +
              `and Last-Event-ID: ${lastSeq} on any replica`,
            type: 'server_shutdown',
            param: null,
            code: 'stream_handed_off',
            stream_id: stream.id,
            last_event_id: lastSeq,
          },
        }),
    };
  },
};
