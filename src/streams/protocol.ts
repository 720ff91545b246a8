import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { z } from 'zod';
import { resumeCursor, sseEvent } from '../http/sse.js';
import { text } from '../http/validate.js';

/** Limits on what a client may ask for; each bounds memory or upstream cost. */
export const LIMITS = Object.freeze({
  maxMessages: 100,
  maxMessageChars: 32_000,
  maxTokens: 4096,
});

/** How this replica's part of a stream ended (a handoff is not a failure). */
export const STREAM_OUTCOMES = ['completed', 'handed_off', 'failed', 'client_aborted'] as const;
export type StreamOutcome = (typeof STREAM_OUTCOMES)[number];

/** The API a stream was started through; each renders the same durable log its own way. */
export const FRONT_DOORS = ['native', 'chat_completions', 'responses', 'ai_sdk'] as const;
export type FrontDoor = (typeof FRONT_DOORS)[number];

/** Browsers reconnect this long after a dropped SSE connection, and after a handoff `end`. */
export const RETRY_MS = 250;

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
export type ChatRequest = z.infer<typeof chatRequest>;

/** 128 random bits, base64url: unguessable, so knowing an id is as good as owning it only for its owner. */
export const newStreamId = () => randomBytes(16).toString('base64url');

const STREAM_ID = /^[A-Za-z0-9_-]{22}$/;
export const isStreamId = (id: string) => STREAM_ID.test(id);

/**
 * The last sequence number the client already has: the `Last-Event-ID` header (what a browser
 * EventSource sends on reconnect) wins over `?after=N`; neither means 0 (from the start).
 */
export const lastEventId = (req: Pick<Request, 'get' | 'query'>): number =>
  resumeCursor(req, { min: 0, code: 'invalid_last_event_id', meaning: 'a token sequence number' }) ?? 0;

export interface Finish {
  readonly finish_reason: string;
  readonly usage?: unknown;
}
export interface Failure {
  readonly error: { readonly code: string; readonly message: string };
}
/** How a stream ended, as stored in `streams.finish`. */
export type Outcome = Finish | Failure;
export const isFailure = (o: Outcome): o is Failure => 'error' in o;

/** SSE frames. Tokens carry their sequence number; `done`/`error` take last_seq + 1. */
export const sse = {
  token: (seq: number, text: string) => sseEvent('token', { text }, seq),
  final: (lastSeq: number, outcome: Outcome) =>
    isFailure(outcome) ? sseEvent('error', outcome.error, lastSeq + 1) : sseEvent('done', outcome, lastSeq + 1),
  /** No id: the client's Last-Event-ID must stay the last token it actually received. */
  end: (streamId: string, lastEventId: number, reason: EndReason) =>
    sseEvent('end', { reason, resumable: true, stream_id: streamId, last_event_id: lastEventId, retry_after_ms: RETRY_MS }),
};

/**
 * Why a connection was ended while its stream goes on: shutdown handoff (the contract's reason),
 * this replica losing the lease to another (a paused process whose lease expired), or the
 * database refusing the final write (another replica continues once it is back).
 */
export type EndReason = 'server_shutdown' | 'lease_lost' | 'storage_unavailable';
