import { persistedAnswer } from './answer.js';
import { chatBody, chatMessages, streamChat, type OutgoingMessage, type UpstreamDeps } from './chat-stream.js';
import { withoutEcho } from './echo.js';
import { regenerate } from './restart.js';
import type { Continuation, GenerationRequest, UpstreamAdapter, UpstreamCursor, UpstreamEvent } from './upstream.js';

export type ContinuingMode = 'vllm' | 'prefix' | 'trailing';

/**
 * Chat completions with an upstream that continues a partial answer: a continuation sends the
 * conversation plus the persisted answer as a trailing assistant message, marked the way the
 * provider needs, and asks only for the tokens left.
 *
 * - `vllm`: `continue_final_message: true, add_generation_prompt: false` in the body; vLLM refuses
 *   both set to true (https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html#extra-parameters-for-chat-api,
 *   https://github.com/vllm-project/vllm/pull/8942).
 * - `prefix`: `"prefix": true` on the assistant message (Mistral, https://docs.mistral.ai/guides/prefix/;
 *   DeepSeek on its beta base URL, https://api-docs.deepseek.com/guides/chat_prefix_completion); an
 *   echoed prefix is stripped from the output (echo.ts).
 * - `trailing`: the message as it is; llama.cpp (https://github.com/ggml-org/llama.cpp/pull/13174),
 *   Ollama (https://github.com/ollama/ollama/issues/6778) and the dev upstream continue it.
 *
 * A log that holds tool calls has no text prefix to continue: that answer is regenerated and
 * compared (restart behaviour), announced by a `fallback` event.
 */
export class ChatAdapter implements UpstreamAdapter {
  constructor(
    readonly mode: ContinuingMode,
    private readonly deps: UpstreamDeps,
  ) {}

  async *generate(
    request: GenerationRequest,
    from: Continuation | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<UpstreamEvent> {
    const answer = persistedAnswer(from?.entries ?? []);
    if (from && answer.hasToolCalls) {
      yield { type: 'fallback', reason: 'tool_calls' };
      yield* regenerate(this.deps, request, from, signal);
      return;
    }
    const remaining = request.maxTokens - answer.tokens;
    if (remaining <= 0) {
      yield { type: 'finish', finishReason: 'length' };
      return;
    }
    const conversation: OutgoingMessage[] = chatMessages(request.messages);
    if (answer.text === '') {
      yield* streamChat(this.deps, chatBody(this.deps.model, request, conversation, remaining), signal);
      return;
    }
    const partial: OutgoingMessage = { role: 'assistant', content: answer.text, ...(this.mode === 'prefix' && { prefix: true }) };
    const extra = this.mode === 'vllm' ? { continue_final_message: true, add_generation_prompt: false } : {};
    const body = chatBody(this.deps.model, request, [...conversation, partial], remaining, extra);
    const events = streamChat(this.deps, body, signal);
    yield* this.mode === 'prefix' ? withoutEcho(answer.text, events) : events;
  }

  async cancel(_cursor: UpstreamCursor | undefined): Promise<void> {}
}
