import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { z } from 'zod';
import { resumeCursor } from '../http/sse.js';
import { text } from '../http/validate.js';
import type { ChatMessage, GenerationRequest, LogEntry } from '../llm/upstream.js';

/** Limits on what a client may ask for; each bounds memory or upstream cost. */
export const LIMITS = Object.freeze({
  maxMessages: 100,
  maxMessageChars: 32_000,
  maxTokens: 4096,
});

/** Browsers reconnect this long after a dropped SSE connection, and after a handoff `end`. */
export const RETRY_MS = 250;

/** How this replica's part of a stream ended (a handoff is not a failure). */
export const STREAM_OUTCOMES = ['completed', 'handed_off', 'failed', 'client_aborted', 'cancelled'] as const;
export type StreamOutcome = (typeof STREAM_OUTCOMES)[number];

/** The API a stream was started through; each renders the same durable log its own way. */
export const FRONT_DOORS = ['native', 'chat_completions', 'responses', 'ai_sdk'] as const;
export type FrontDoor = (typeof FRONT_DOORS)[number];

/** `POST /v1/chat/stream`: lastcall's own API. */
export const chatRequest = z.object({
  messages: z
    .array(
      z.object({
        role: z.enum(['system', 'user', 'assistant']),
        content: text({ max: LIMITS.maxMessageChars, nonBlank: true }),
      }),
    )
    .min(1)
    .max(LIMITS.maxMessages),
  // Always set (default = the limit) so the memory a generation can hold is bounded.
  max_tokens: z.number().int().min(1).max(LIMITS.maxTokens).default(LIMITS.maxTokens),
});

/**
 * What a stream generates, as stored with it (`streams.request`): the conversation, `max_tokens`
 * (always set: it bounds what a generation holds), and whatever the front door passes through to
 * the upstream. Field names are the stored format's; earlier releases read `messages` and
 * `max_tokens` and ignore the rest.
 */
export interface StreamRequest {
  readonly messages: readonly ChatMessage[];
  readonly max_tokens: number;
  readonly temperature?: number;
  readonly top_p?: number;
  readonly stop?: readonly string[];
  readonly seed?: number;
  readonly tools?: readonly unknown[];
  readonly tool_choice?: unknown;
  readonly user?: string;
  readonly instructions?: string;
  /** The model name the client asked for, which its answers repeat. */
  readonly model?: string;
  /** Chat completions: end with a usage chunk (`stream_options.include_usage`). */
  readonly include_usage?: boolean;
  /** The Responses API's own fields, which its response object repeats. */
  readonly responses?: {
    readonly background: boolean;
    readonly store: boolean;
    readonly metadata: Readonly<Record<string, string>>;
    /** As the client gave it (the conversation holds it as a leading system message, which every upstream reads). */
    readonly instructions?: string;
  };
}

export function generationRequest(r: StreamRequest): GenerationRequest {
  return {
    messages: r.messages,
    maxTokens: r.max_tokens,
    ...(r.temperature !== undefined && { temperature: r.temperature }),
    ...(r.top_p !== undefined && { topP: r.top_p }),
    ...(r.stop !== undefined && { stop: r.stop }),
    ...(r.seed !== undefined && { seed: r.seed }),
    ...(r.tools !== undefined && { tools: r.tools }),
    ...(r.tool_choice !== undefined && { toolChoice: r.tool_choice }),
    ...(r.user !== undefined && { user: r.user }),
    ...(r.instructions !== undefined && { instructions: r.instructions }),
  };
}

/** One entry of a stream's log, with its sequence number (gap-free from 1, never reused). */
export type Entry = LogEntry & { readonly seq: number };

/** 128 random bits, base64url: unguessable, so knowing an id is as good as owning it only for its owner. */
export const newStreamId = () => randomBytes(16).toString('base64url');

const STREAM_ID = /^[A-Za-z0-9_-]{22}$/;
export const isStreamId = (id: string) => STREAM_ID.test(id);

/**
 * The last sequence number the client already has: the `Last-Event-ID` header (what a browser
 * EventSource sends on reconnect) wins over `?after=N`; neither means 0 (from the start).
 */
export const lastEventId = (req: Pick<Request, 'get' | 'query'>): number => resumePosition(req) ?? 0;

/**
 * The same, undefined when the client sent neither: a stream's format decides where "from the
 * start" is (a Responses stream's first event is number 0, so 0 already means "after it").
 */
export const resumePosition = (req: Pick<Request, 'get' | 'query'>): number | undefined =>
  resumeCursor(req, { min: 0, code: 'invalid_last_event_id', meaning: 'a sequence number' });

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}
export interface Finish {
  readonly finish_reason: string;
  readonly usage?: Usage;
}
export interface Failure {
  readonly error: { readonly code: string; readonly message: string };
}
/** How a stream ended, as stored in `streams.finish`. A cancelled stream ends with finish_reason `cancelled`. */
export type Outcome = Finish | Failure;
export const isFailure = (o: Outcome): o is Failure => 'error' in o;

export const CANCELLED: Finish = { finish_reason: 'cancelled' };

/**
 * Why a connection was ended while its stream goes on: shutdown handoff (the contract's reason),
 * this replica losing the lease to another (a paused process whose lease expired), or the
 * database refusing the final write (another replica continues once it is back).
 */
export type EndReason = 'server_shutdown' | 'lease_lost' | 'storage_unavailable';
