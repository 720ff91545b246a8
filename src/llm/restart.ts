import { chatBody, chatMessages, streamChat, type UpstreamDeps } from './chat-stream.js';
import { continueByComparing } from './compare.js';
import type { Continuation, GenerationRequest, UpstreamAdapter, UpstreamCursor, UpstreamEvent } from './upstream.js';

/**
 * `restart`: for an upstream that cannot continue an answer (OpenAI's chat completions answer a
 * trailing assistant message anew, https://platform.openai.com/docs/api-reference/chat/create).
 * A continuation regenerates the whole answer and compares it with the log (continueByComparing):
 * a deterministic upstream (the dev upstream, or temperature 0 with a seed) continues seamlessly;
 * a sampling one gives one `reset` and the new answer.
 */
export class RestartAdapter implements UpstreamAdapter {
  readonly mode = 'restart';

  constructor(private readonly deps: UpstreamDeps) {}

  generate(request: GenerationRequest, from: Continuation | undefined, signal: AbortSignal): AsyncIterable<UpstreamEvent> {
    return regenerate(this.deps, request, from, signal);
  }

  async cancel(_cursor: UpstreamCursor | undefined): Promise<void> {}
}

/** The whole answer again (the full `maxTokens`), compared with the log's when continuing. */
export function regenerate(
  deps: UpstreamDeps,
  request: GenerationRequest,
  from: Continuation | undefined,
  signal: AbortSignal,
): AsyncIterable<UpstreamEvent> {
  const body = chatBody(deps.model, request, chatMessages(request.messages), request.maxTokens);
  const source = streamChat(deps, body, signal);
  return from ? continueByComparing(from.entries, source) : source;
}
