import { sseFrame } from '../../http/sse.js';
import { isFailure } from '../protocol.js';
import type { Format, StreamInfo } from '../render.js';

/**
 * The AI SDK's UI message stream (https://ai-sdk.dev/docs/ai-sdk-ui/stream-protocol), what
 * `useChat`'s DefaultChatTransport reads: `start`, `start-step`, `text-start`, one `text-delta`
 * per log entry, then `text-end`, `finish-step`, `finish` and `data: [DONE]`; an `error` chunk
 * when the stream failed. A handoff ends the response without `finish`, so the client's
 * resume path reconnects. The AI SDK resumes from the start of the stream (its transport sends
 * no cursor) or from a chunk index (`startIndex`, the workflow transport's convention): every
 * chunk is counted, and those the client has are skipped.
 *
 * A `reset` (the answer starting over after a takeover the upstream could not continue) closes
 * the text part and opens a new one, announced by a `data-lastcall-reset` part: the message
 * then holds the partial answer and the whole new one as two text parts, and an app that
 * wants to hide the first can key on that data part.
 */
export const uiMessageFormat: Format = {
  onReset: 'render',
  renderer: (stream: StreamInfo, position) => {
    const skip = position ?? 0;
    let index = 0;
    let part = 1;
    const textId = () => `text-${part}`;
    const chunk = (body: object) => (index++ >= skip ? sseFrame(body) : '');
    return {
      headers: { 'x-vercel-ai-ui-message-stream': 'v1' },
      retryMs: undefined,
      // Chunk indices are counted from the first entry, so every connection reads the log from the start.
      cursor: 0,
      opening: () =>
        chunk({ type: 'start', messageId: `msg_${stream.id}` }) +
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
      final(_lastSeq, outcome) {
        if (isFailure(outcome)) return chunk({ type: 'error', errorText: outcome.error.message }) + sseFrame('[DONE]');
        return (
          chunk({ type: 'text-end', id: textId() }) +
          chunk({ type: 'finish-step' }) +
          chunk({ type: 'finish' }) +
          sseFrame('[DONE]')
        );
      },
      handoff: () => '',
    };
  },
};
