import { NotFoundError } from 'openai';
import type {
  ResponseCreateParamsStreaming,
  ResponseInputItem,
  ResponseStreamEvent,
  Tool,
} from 'openai/resources/responses/responses';
import { defined, persistedAnswer } from './answer.js';
import type { UpstreamDeps } from './chat-stream.js';
import { continueByComparing, type Comparison } from './compare.js';
import { statusOf, upstreamError } from './errors.js';
import {
  UpstreamError,
  type ChatMessage,
  type Continuation,
  type GenerationRequest,
  type UpstreamAdapter,
  type UpstreamCursor,
  type UpstreamEvent,
} from './upstream.js';

type ResponseEvents = AsyncIterable<ResponseStreamEvent>;

/**
 * `responses`: every answer is a background Response the upstream generates and stores whether or
 * not anyone reads it (https://platform.openai.com/docs/guides/background), streamed with
 * `stream: true`. The stream's `sequence_number`s are the cursor persisted with the log, so the
 * replica that takes over re-attaches with `GET /v1/responses/{id}?stream=true&starting_after=N`
 * ("keep track of a cursor corresponding to the sequence_number", same guide) and receives exactly
 * the events the log lacks: nothing is regenerated, the text is exact even when the model samples.
 *
 * A Response the upstream no longer knows (404: expired after about 10 minutes, or lost) cannot be
 * re-attached: the answer is regenerated as a fresh background Response and compared with the log
 * (restart behaviour), announced by `{type: 'fallback', reason: 'response_not_found'}`.
 */
export class ResponsesAdapter implements UpstreamAdapter {
  readonly mode = 'responses';

  constructor(private readonly deps: UpstreamDeps) {}

  async *generate(
    request: GenerationRequest,
    from: Continuation | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<UpstreamEvent> {
    const entries = from?.entries ?? [];
    const logged = persistedAnswer(entries).segments.length > 0;
    const cursor = from?.cursor;
    if (cursor) {
      const resumed = await this.reattach(cursor, signal);
      if (resumed === 'aborted') return;
      if (resumed !== 'not_found') {
        yield { type: 'reattached' };
        yield* this.follow(async () => resumed, new ResponseEventMapper(cursor.responseId), signal);
        return;
      }
      yield { type: 'fallback', reason: 'response_not_found' };
    } else if (logged) {
      // A log written without a cursor (another mode wrote it): nothing to re-attach to.
      yield { type: 'fallback', reason: 'no_cursor' };
    }
    const mapper = new ResponseEventMapper();
    const fresh = this.follow(() => this.create(request, signal), mapper, signal);
    if (!logged) {
      yield* fresh;
      return;
    }
    const comparison: Comparison = { resolved: false };
    try {
      yield* continueByComparing(entries, fresh, comparison);
    } finally {
      // Stopped or broken before the new Response was handed to the log: nobody will re-attach to
      // it (the next takeover falls back again), so stop it rather than let it generate for nothing.
      if (!comparison.resolved && mapper.responseId) this.cancelQuietly(mapper.responseId);
    }
  }

  /** POST /v1/responses/{id}/cancel; an id the upstream no longer knows, or a finished Response, is no error. */
  async cancel(cursor: UpstreamCursor | undefined): Promise<void> {
    if (!cursor) return;
    const { client } = this.deps;
    try {
      // OpenAI: "Cancelling twice is idempotent - subsequent calls simply return the final Response
      // object" (https://platform.openai.com/docs/guides/background).
      await client.responses.cancel(cursor.responseId, { maxRetries: 1, timeout: 10_000 });
    } catch (err) {
      if (err instanceof NotFoundError) return;
      const status = statusOf(err);
      if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
        // An upstream that refuses to cancel what has already finished: nothing is running.
        const now = await client.responses
          .retrieve(cursor.responseId, {}, { maxRetries: 0, timeout: 10_000 })
          .catch(() => undefined);
        if (now && now.status !== 'queued' && now.status !== 'in_progress') return;
      }
      throw upstreamError(err, `cancelling upstream response ${cursor.responseId} failed`);
    }
  }

  private cancelQuietly(responseId: string): void {
    this.cancel({ responseId, sequence: 0 }).catch(() => undefined);
  }

  /** A background Response, streamed: `background` needs `store: true` (same guide, Limits). */
  private create(request: GenerationRequest, signal: AbortSignal): Promise<ResponseEvents> {
    const body: ResponseCreateParamsStreaming = {
      model: this.deps.model,
      input: responsesInput(request.messages),
      max_output_tokens: request.maxTokens,
      background: true,
      stream: true,
      store: true,
      ...defined({
        instructions: request.instructions,
        temperature: request.temperature,
        top_p: request.topP,
        tools: request.tools ? request.tools.map(responsesTool) : undefined,
        tool_choice: request.toolChoice === undefined ? undefined : responsesToolChoice(request.toolChoice),
      }),
    };
    // No SDK retries: a create whose answer was lost may have started a Response that runs on
    // unseen; the generation retries from the log instead.
    return this.deps.client.responses.create(body, { signal, maxRetries: 0 });
  }

  private async reattach(cursor: UpstreamCursor, signal: AbortSignal): Promise<ResponseEvents | 'not_found' | 'aborted'> {
    if (signal.aborted) return 'aborted';
    try {
      return await this.deps.client.responses.retrieve(
        cursor.responseId,
        { stream: true, starting_after: cursor.sequence },
        { signal },
      );
    } catch (err) {
      if (signal.aborted) return 'aborted';
      // "Response with id '…' not found." (as quoted in
      // https://community.openai.com/t/responses-api-reconnect-to-a-streaming-response/1362217).
      if (err instanceof NotFoundError) return 'not_found';
      throw upstreamError(err, `re-attaching to upstream response ${cursor.responseId} failed`);
    }
  }

  /** Reads one Response's events until it finishes; quiet when `signal` aborts. */
  private async *follow(
    open: () => Promise<ResponseEvents>,
    mapper: ResponseEventMapper,
    signal: AbortSignal,
  ): AsyncGenerator<UpstreamEvent> {
    if (signal.aborted) return;
    try {
      for await (const event of await open()) {
        if (signal.aborted) return;
        yield* mapper.map(event);
        if (mapper.finished) return;
      }
    } catch (err) {
      if (signal.aborted) return;
      throw upstreamError(err, 'upstream response stream failed');
    }
    if (signal.aborted) return;
    // The stream ended without a terminal event: a cut connection, or a Response cancelled meanwhile.
    const id = mapper.responseId;
    const now = id ? await this.deps.client.responses.retrieve(id, {}, { maxRetries: 0 }).catch(() => undefined) : undefined;
    if (now?.status === 'cancelled') throw new UpstreamError(`upstream response ${id} was cancelled`, false);
    throw new UpstreamError('upstream response stream ended before the response finished', true);
  }
}

/**
 * Maps the Responses streaming events (https://platform.openai.com/docs/api-reference/responses-streaming)
 * to upstream events: the Response id as soon as it is known, `response.output_text.delta` as text
 * and function calls as tool pieces (each with the cursor after it), the terminal events as finish
 * or failure.
 */
export class ResponseEventMapper {
  responseId: string | undefined;
  finished = false;
  /** Function-call item id → tool index, in the order the calls appeared. */
  private readonly calls = new Map<string, number>();

  constructor(responseId?: string) {
    this.responseId = responseId;
  }

  map(e: ResponseStreamEvent): UpstreamEvent[] {
    const cursor = this.responseId === undefined ? {} : { cursor: { responseId: this.responseId, sequence: e.sequence_number } };
    switch (e.type) {
      case 'response.created':
      case 'response.queued':
      case 'response.in_progress':
        if (this.responseId !== undefined) return [];
        this.responseId = e.response.id;
        return [{ type: 'cursor', cursor: { responseId: e.response.id, sequence: e.sequence_number } }];
      case 'response.output_text.delta':
        return e.delta ? [{ type: 'text', text: e.delta, ...cursor }] : [];
      case 'response.output_item.added': {
        if (e.item.type !== 'function_call') return [];
        const index = this.calls.size;
        this.calls.set(e.item.id ?? e.item.call_id, index);
        return [{ type: 'tool', index, id: e.item.call_id, name: e.item.name, arguments: e.item.arguments ?? '', ...cursor }];
      }
      case 'response.function_call_arguments.delta': {
        const index = this.calls.get(e.item_id);
        return index === undefined || !e.delta ? [] : [{ type: 'tool', index, arguments: e.delta, ...cursor }];
      }
      case 'response.completed':
      case 'response.incomplete': {
        this.finished = true;
        const usage = e.response.usage;
        const reason = e.response.incomplete_details?.reason;
        // An incomplete Response stopped at max_output_tokens (or was filtered).
        const finishReason =
          e.type === 'response.incomplete'
            ? reason === 'content_filter'
              ? 'content_filter'
              : 'length'
            : this.calls.size > 0
              ? 'tool_calls'
              : 'stop';
        return [
          {
            type: 'finish',
            finishReason,
            ...(usage && { usage: { promptTokens: usage.input_tokens, completionTokens: usage.output_tokens } }),
          },
        ];
      }
      case 'response.failed':
        this.finished = true;
        throw new UpstreamError(`upstream response failed: ${e.response.error?.message ?? 'no reason given'}`, false);
      case 'error':
        // An error event mid-stream: a retry re-attaches and sees how the Response itself ended.
        throw new UpstreamError(`upstream response stream error: ${e.message}`, true);
      default:
        return [];
    }
  }
}

/**
 * The conversation as Responses input items: messages keep their role (system and developer ones
 * included: "Instructions given with the developer or system role take precedence over
 * instructions given with the user role", https://platform.openai.com/docs/api-reference/responses/create),
 * an assistant's tool calls become `function_call` items and tool results `function_call_output` items
 * (https://platform.openai.com/docs/guides/function-calling).
 */
export function responsesInput(messages: readonly ChatMessage[]): ResponseInputItem[] {
  return messages.flatMap((m): ResponseInputItem[] => {
    switch (m.role) {
      case 'tool':
        return [{ type: 'function_call_output', call_id: m.tool_call_id ?? '', output: m.content ?? '' }];
      case 'assistant': {
        const text: ResponseInputItem[] = m.content ? [{ type: 'message', role: 'assistant', content: m.content }] : [];
        const calls = (m.tool_calls ?? []).map((c): ResponseInputItem => ({
          type: 'function_call',
          call_id: c.id,
          name: c.function.name,
          arguments: c.function.arguments,
        }));
        return [...text, ...calls];
      }
      default:
        return [{ type: 'message', role: m.role, content: m.content ?? '' }];
    }
  });
}

/** A chat completions function tool (`{type, function: {…}}`) in the Responses shape (`{type, name, …}`). */
function responsesTool(tool: unknown): Tool {
  const t = tool as { type?: string; function?: { name: string; description?: string; parameters?: unknown; strict?: boolean } };
  if (t.type !== 'function' || !t.function) return tool as Tool;
  const f = t.function;
  return {
    type: 'function',
    name: f.name,
    parameters: (f.parameters ?? null) as Record<string, unknown> | null,
    strict: f.strict ?? null,
    ...defined({ description: f.description }),
  };
}

function responsesToolChoice(choice: unknown): ResponseCreateParamsStreaming['tool_choice'] {
  const c = choice as { type?: string; function?: { name: string } };
  if (c && typeof c === 'object' && c.type === 'function' && c.function) return { type: 'function', name: c.function.name };
  return choice as ResponseCreateParamsStreaming['tool_choice'];
}
