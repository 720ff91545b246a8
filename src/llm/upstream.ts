/**
 * The contract between a stream's generation (src/streams/) and the upstream LLM: one adapter
 * per resume mode, chosen by LLM_RESUME_MODE. A generation asks its adapter to start an answer, or
 * to continue one whose persisted log it hands over; the adapter speaks the provider's protocol
 * and says, as events, what to append to the log.
 */

/**
 * How a replica that takes over a stream gets the rest of the answer:
 * - `responses`: re-attach to the upstream's own background generation (`starting_after`): exact;
 * - `vllm` / `prefix` / `trailing`: ask the upstream to continue the persisted answer (vLLM's
 *   `continue_final_message`, Mistral/DeepSeek's `"prefix": true`, a plain trailing assistant
 *   message for llama.cpp, Ollama and the dev upstream): one coherent answer;
 * - `restart`: the upstream cannot continue; regenerate and compare with the persisted answer,
 *   `reset` at the first difference.
 */
export const RESUME_MODES = ['responses', 'vllm', 'prefix', 'trailing', 'restart'] as const;
export type ResumeMode = (typeof RESUME_MODES)[number];

/** A message of the conversation, as OpenAI's chat completions take it. */
export interface ChatMessage {
  readonly role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  readonly content: string | null;
  readonly name?: string;
  /** Calls an assistant message made (a conversation that continues after tool results). */
  readonly tool_calls?: readonly {
    readonly id: string;
    readonly type: 'function';
    readonly function: { readonly name: string; readonly arguments: string };
  }[];
  /** The call a `tool` message answers. */
  readonly tool_call_id?: string;
}

/** What to generate: the conversation and the sampling parameters passed through to the upstream. */
export interface GenerationRequest {
  readonly messages: readonly ChatMessage[];
  /** Cap on the whole answer (a continuation asks only for what is left). */
  readonly maxTokens: number;
  readonly temperature?: number;
  readonly topP?: number;
  readonly stop?: readonly string[];
  readonly seed?: number;
  /** OpenAI's `tools` and `tool_choice`, passed through as given. */
  readonly tools?: readonly unknown[];
  readonly toolChoice?: unknown;
  readonly user?: string;
  /** Responses API only: its `instructions`. */
  readonly instructions?: string;
}

/** Where a generation stands at the upstream: persisted with the log, so another replica re-attaches. */
export interface UpstreamCursor {
  /** The upstream's response id (`resp_…`). */
  readonly responseId: string;
  /** The `sequence_number` of the last upstream event whose effect is in the log. */
  readonly sequence: number;
}

/** One entry of the persisted log, as a continuation sees it. */
export type LogEntry =
  | { readonly kind: 'text'; readonly text: string }
  /** A piece of a tool call: like OpenAI's streamed `tool_calls` deltas (arguments arrive in pieces). */
  | { readonly kind: 'tool'; readonly index: number; readonly id?: string; readonly name?: string; readonly arguments: string }
  /** Everything before it was replaced by what follows (the upstream could not continue it). */
  | { readonly kind: 'reset' };

/** What a continuation starts from: the log so far and, in responses mode, the upstream's cursor. */
export interface Continuation {
  readonly entries: readonly LogEntry[];
  readonly cursor: UpstreamCursor | undefined;
}

export interface Usage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/**
 * What a generation appends, in order. An entry event (`text`, `tool`, `reset`) may carry the
 * upstream cursor after it; the generation persists the cursor of the last entry it wrote.
 */
export type UpstreamEvent =
  | ({ readonly type: 'text'; readonly text: string } & CursorAfter)
  | ({
      readonly type: 'tool';
      readonly index: number;
      readonly id?: string;
      readonly name?: string;
      readonly arguments: string;
    } & CursorAfter)
  /** Restart mode (or a lost upstream response): the answer starts over from here. */
  | ({ readonly type: 'reset' } & CursorAfter)
  /** The upstream generation this stream follows, as soon as it is known (responses mode). */
  | { readonly type: 'cursor'; readonly cursor: UpstreamCursor }
  | { readonly type: 'finish'; readonly finishReason: string; readonly usage?: Usage }
  /** For metrics: tokens generated again and compared, not sent (restart mode). */
  | { readonly type: 'regenerated'; readonly tokens: number }
  /** For metrics: a takeover re-attached to the upstream generation itself (responses mode). */
  | { readonly type: 'reattached' }
  /**
   * For metrics: the mode's own way of continuing could not be used, so this generation regenerates
   * the answer and compares it with the log (restart behaviour; a `reset` follows if it differs).
   */
  | { readonly type: 'fallback'; readonly reason: FallbackReason };

/**
 * Why a continuation fell back to regenerating: the upstream no longer knows the response (404), the
 * log has no upstream cursor to re-attach with, or the log holds tool calls (no text prefix to continue).
 */
export const FALLBACK_REASONS = ['response_not_found', 'no_cursor', 'tool_calls'] as const;
export type FallbackReason = (typeof FALLBACK_REASONS)[number];

interface CursorAfter {
  readonly cursor?: UpstreamCursor;
}

/** The upstream failed in a way a retry from the log may fix (`retryable`) or not. */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface UpstreamAdapter {
  readonly mode: ResumeMode;
  /**
   * Starts an answer (`from` undefined) or continues the one whose log `from` holds. Ends with a
   * `finish` event; stops quietly when `signal` aborts; throws UpstreamError when the upstream fails.
   */
  generate(request: GenerationRequest, from: Continuation | undefined, signal: AbortSignal): AsyncIterable<UpstreamEvent>;
  /** Stops the upstream's generation for good (responses: POST /v1/responses/{id}/cancel); a no-op elsewhere. */
  cancel(cursor: UpstreamCursor | undefined): Promise<void>;
}

/** The answer a log holds now: the text entries after the last reset. */
export function answerText(entries: readonly LogEntry[]): string {
  let text = '';
  for (const e of entries) {
    if (e.kind === 'reset') text = '';
    else if (e.kind === 'text') text += e.text;
  }
  return text;
}
