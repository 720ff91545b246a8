import { sseFrame } from '../../http/sse.js';
import { isFailure, type Outcome } from '../protocol.js';
import type { Format, StreamInfo } from '../render.js';

/** The AI SDK's finish reasons (`finish` chunk, `useChat`'s onFinish), from the upstream's OpenAI-style ones. */
const FINISH_REASONS: Readonly<Record<string, string>> = {
  stop: 'stop',
  length: 'length',
  content_filter: 'content-filter',
  tool_calls: 'tool-calls',
  function_call: 'tool-calls',
};

/** The id of a stream's assistant message: the same on every replica and every replay. */
export const uiMessageId = (streamId: string) => `msg_${streamId}`;

/**
 * The AI SDK's UI message stream (https://ai-sdk.dev/docs/ai-sdk-ui/stream-protocol), what
 * `useChat`'s DefaultChatTransport reads: `start`, `start-step`, `text-start`, one `text-delta`
 * per log entry, then `text-end`, `finish-step`, `finish` (with its `finishReason`) and
 * `data: [DONE]`. Every chunk is one the `ai` package's own schema (`uiMessageChunkSchema`)
 * accepts; test/unit/streams/formats/ui-message.test.ts parses them with it.
 *
 * - A failed stream ends with `error` and then `finish` (`finishReason: "error"`), so a client
 *   that reconnects until it sees `finish` (the workflow transport) stops there.
 * - A stream its owner cancelled ends with `abort` (what the AI SDK's own server sends for a
 *   stopped generation) and `finish` (`finishReason: "other"`): the partial answer stays.
 * - A handoff ends the response with no further chunk, so no `finish`: the client's resume path
 *   (`reconnectToStream`) picks the stream up on any replica. Nothing a replica writes while it
 *   drains is a chunk the client would reject.
 * - The AI SDK resumes from the start of the stream (DefaultChatTransport sends no cursor; its
 *   `resumeStreamIsReplay` rebuilds the message from the replay) or from a chunk index
 *   (`startIndex`, the workflow transport's convention: the number of chunks the client has):
 *   every chunk is counted, `[DONE]` is not, and those the client has are skipped. A chunk is a
 *   whole SSE frame, so a resume point is always at a chunk boundary.
 * - A `reset` (the answer starting over after a takeover the upstream could not continue)
 *   closes the text part and opens a new one, announced by a `data-lastcall-reset` part: the
 *   message then holds the partial answer and the whole new one as two text parts, and an app
 *   that wants to hide the first keys on that data part (the AI SDK page does; so does the
 *   front door when such a message comes back as history).
 * - Tool-call entries are not rendered: the AI SDK front door passes no tools to the upstream.
 */
export const uiMessageFormat: Format = {
  onReset: 'render',
  renderer: (stream: StreamInfo, position) => {
    const skip = position ?? 0;
    let index = 0;
    let part = 1;
    const textId = () => `text-${part}`;
    const chunk = (body: object) => (index++ >= skip ? sseFrame(body) : '');
    const finish = (outcome: Outcome) => {
      if (isFailure(outcome)) {
        return (
          chunk({ type: 'text-end', id: textId() }) +
          chunk({ type: 'finish-step' }) +
          chunk({ type: 'error', errorText: outcome.error.message }) +
          chunk({ type: 'finish', finishReason: 'error' })
        );
      }
      const cancelled = outcome.finish_reason === 'cancelled';
      return (
        chunk({ type: 'text-end', id: textId() }) +
        chunk({ type: 'finish-step' }) +
        (cancelled ? chunk({ type: 'abort', reason: 'cancelled' }) : '') +
        chunk({ type: 'finish', finishReason: FINISH_REASONS[outcome.finish_reason] ?? 'other' })
      );
    };
    return {
      headers: { 'x-vercel-ai-ui-message-stream': 'v1' },
      retryMs: undefined,
      // Chunk indices are counted from the first entry, so every connection reads the log from the start.
      cursor: 0,
      opening: () =>
        chunk({ type: 'start', messageId: uiMessageId(stream.id) }) +
        chunk({ type: 'start-step' }) +
        chunk({ type: 'text-start', id: textId() }),
      entry(e) {
        if (e.kind === 'text') return chunk({ type: 'text-delta', id: textId(), delta: e.text });
        if (e.kind !== 'reset') return '';
        const closed = chunk({ type: 'text-end', id: textId() });
        const marker = chunk({ type: 'data-lastcall-reset', data: { reason: 'upstream_cannot_continue', stream_id: stream.id } });
        part++;
        return closed + marker + chunk({ type: 'text-start', id: textId() });
      },
      finalNeedsAnswer: false,
      final: (_lastSeq, outcome) => finish(outcome) + sseFrame('[DONE]'),
      handoff: () => '',
    };
  },
};
