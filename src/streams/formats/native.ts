import { sseFrame } from '../../http/sse.js';
import { isFailure, RETRY_MS } from '../protocol.js';
import type { Format, StreamInfo } from '../render.js';

/**
 * lastcall's own events (`POST /v1/chat/stream`, `GET /v1/streams/:id`): `token` with the
 * sequence number as SSE id, `reset` when the answer starts over, `done`/`error` with id
 * lastSeq + 1, and `end` (no id: Last-Event-ID stays the last token received) when this replica
 * stops serving a stream that goes on. A browser EventSource resumes it with no code of its own.
 */
export const nativeFormat: Format = {
  onReset: 'render',
  renderer: (stream: StreamInfo, position) => ({
    headers: {},
    retryMs: RETRY_MS,
    cursor: position ?? 0,
    opening: () => '',
    entry(e) {
      switch (e.kind) {
        case 'text':
          return sseFrame({ text: e.text }, { event: 'token', id: e.seq });
        case 'reset':
          return sseFrame({ reason: 'upstream_cannot_continue', stream_id: stream.id }, { event: 'reset', id: e.seq });
        case 'tool':
          return sseFrame({ index: e.index, id: e.id, name: e.name, arguments: e.arguments }, { event: 'tool', id: e.seq });
      }
    },
    finalNeedsAnswer: false,
    final: (lastSeq, outcome) =>
      isFailure(outcome)
        ? sseFrame(outcome.error, { event: 'error', id: lastSeq + 1 })
        : sseFrame(outcome, { event: 'done', id: lastSeq + 1 }),
    handoff: (reason, lastSeq) =>
      sseFrame(
        { reason, resumable: true, stream_id: stream.id, last_event_id: lastSeq, retry_after_ms: RETRY_MS },
        { event: 'end' },
      ),
  }),
};
