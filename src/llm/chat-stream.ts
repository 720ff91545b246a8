import { createParser } from 'eventsource-parser';
import { APIError, type OpenAI } from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions';
import { defined } from './answer.js';
import type { ChatOpener } from './chat-transport.js';
import { upstreamError } from './errors.js';
import { UpstreamError, type ChatMessage, type GenerationRequest, type UpstreamEvent } from './upstream.js';

/** What every adapter needs of the upstream: the official client, how chat streams open, and the model it asks for. */
export interface UpstreamDeps {
  readonly client: OpenAI;
  readonly openChat: ChatOpener;
  readonly model: string;
}

/**
 * A message the provider takes beyond OpenAI's schema: the partial answer to continue, flagged
 * `"prefix": true` for Mistral and DeepSeek.
 */
export type OutgoingMessage = ChatCompletionMessageParam & { prefix?: boolean };

/** The streamed chat completion body for a request, with `maxTokens` asked for and `extra` provider fields. */
export function chatBody(
  model: string,
  request: GenerationRequest,
  messages: readonly OutgoingMessage[],
  maxTokens: number,
  extra: Record<string, unknown> = {},
): ChatCompletionCreateParamsStreaming {
  return {
    model,
    messages: messages as ChatCompletionMessageParam[],
    max_tokens: maxTokens,
    stream: true,
    // OpenAI: with include_usage the last chunk before [DONE] carries the usage with empty choices
    // (https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options).
    stream_options: { include_usage: true },
    ...defined({
      temperature: request.temperature,
      top_p: request.topP,
      stop: request.stop ? [...request.stop] : undefined,
      seed: request.seed,
      tools: request.tools ? ([...request.tools] as ChatCompletionTool[]) : undefined,
      tool_choice: request.toolChoice as ChatCompletionToolChoiceOption | undefined,
      user: request.user,
    }),
    // Fields outside OpenAI's schema go in the body as they are; the SDK sends what it is given
    // (openai-node README, "Undocumented request params").
    ...extra,
  };
}

/** The conversation as OpenAI's chat completions take it. */
export function chatMessages(messages: readonly ChatMessage[]): ChatCompletionMessageParam[] {
  return messages.map((m): ChatCompletionMessageParam => {
    const name = m.name === undefined ? {} : { name: m.name };
    switch (m.role) {
      case 'assistant':
        return {
          role: 'assistant',
          content: m.content,
          ...name,
          ...(m.tool_calls?.length && { tool_calls: m.tool_calls.map((c) => ({ ...c, function: { ...c.function } })) }),
        };
      case 'tool':
        return { role: 'tool', content: m.content ?? '', tool_call_id: m.tool_call_id ?? '' };
      default:
        return { role: m.role, content: m.content ?? '', ...name };
    }
  });
}

/**
 * The chunks of a streamed chat completion, a body read at a time: the SSE parsed here rather
 * than by the SDK's Stream, whose decoder copies its buffer once per event (quadratic in a read
 * that holds many) and passes each event through four async generators. What it yields is the
 * same: each event's JSON until `[DONE]`; an event carrying `error` throws the SDK's APIError (no
 * status), as the SDK's Stream does.
 */
async function* chatChunks(body: AsyncIterable<Uint8Array>): AsyncGenerator<ChatCompletionChunk[]> {
  let done = false;
  let batch: ChatCompletionChunk[] = [];
  const parser = createParser({
    onEvent: ({ data }) => {
      if (done) return;
      if (data.startsWith('[DONE]')) {
        done = true;
        return;
      }
      const chunk = JSON.parse(data) as ChatCompletionChunk & { error?: unknown };
      if (chunk?.error) throw new APIError(undefined, chunk.error, undefined, undefined);
      batch.push(chunk);
    },
  });
  const decoder = new TextDecoder();
  const reads = body[Symbol.asyncIterator]();
  // Each read is decoded in a function of its own: a generator waiting at a yield keeps its
  // locals, and the last read's bytes would otherwise stay alive with every stream between tokens.
  const nextText = async () => {
    const read = await reads.next();
    return read.done ? undefined : decoder.decode(read.value, { stream: true });
  };
  let ended = false;
  try {
    for (let text = await nextText(); text !== undefined; text = await nextText()) {
      parser.feed(text);
      if (batch.length > 0) {
        const ready = batch;
        batch = [];
        yield ready;
      }
    }
    ended = true;
  } finally {
    // A consumer that stops early (or a throw) closes the body, as `for await` would: the socket goes back.
    if (!ended) await reads.return?.();
  }
  parser.feed(`${decoder.decode()}\n\n`);
  if (batch.length > 0) yield batch;
}

/**
 * Streams one chat completion as upstream events: content deltas as `text`, OpenAI's streamed
 * `tool_calls` deltas (index, then id and function.name once, then function.arguments in pieces,
 * https://platform.openai.com/docs/guides/function-calling#streaming) as `tool`, and `finish` with
 * the finish_reason and the usage chunk. Returns quietly when `signal` aborts.
 */
export async function* streamChat(
  deps: UpstreamDeps,
  body: ChatCompletionCreateParamsStreaming,
  signal: AbortSignal,
): AsyncGenerator<UpstreamEvent> {
  if (signal.aborted) return;
  let finishReason: string | undefined;
  let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
  try {
    for await (const chunks of chatChunks(await deps.openChat(body, signal))) {
      for (const chunk of chunks) {
        // Chunks already read when the signal aborted are not the caller's any more.
        if (signal.aborted) return;
        const choice = chunk.choices[0];
        const delta = choice?.delta;
        if (delta?.content) yield { type: 'text', text: delta.content };
        for (const call of delta?.tool_calls ?? []) {
          yield {
            type: 'tool',
            index: call.index,
            ...defined({ id: call.id ?? undefined, name: call.function?.name ?? undefined }),
            arguments: call.function?.arguments ?? '',
          };
        }
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        if (chunk.usage) usage = chunk.usage;
      }
    }
  } catch (err) {
    if (signal.aborted) return;
    throw upstreamError(err, 'chat completion failed');
  }
  // A stream that just stops is a broken upstream (an aborted one returned above).
  if (signal.aborted) return;
  if (!finishReason) throw new UpstreamError('chat completion stream ended without a finish_reason', true);
  yield {
    type: 'finish',
    finishReason,
    ...(usage && { usage: { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens } }),
  };
}
