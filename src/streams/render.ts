import type { EndReason, Entry, FrontDoor, Outcome, StreamRequest } from './protocol.js';

/** What a rendering knows of the stream it renders. */
export interface StreamInfo {
  readonly id: string;
  readonly format: FrontDoor;
  readonly request: StreamRequest;
  readonly createdAt: Date;
}

/**
 * How one front door writes a stream on the wire, for one client connection. The durable log
 * is the same for every front door; each renders its entries as its own events (lastcall's
 * `token`s, chat.completion.chunk, Responses events, the AI SDK's UI message chunks), with its
 * own idea of a resume position, which the renderer maps to the log's sequence numbers.
 */
export interface Renderer {
  /** Response headers besides the SSE ones (`Lastcall-Stream-Id` is always sent). */
  readonly headers: Readonly<Record<string, string>>;
  /** The reconnection delay for an EventSource; undefined: send no `retry:` field. */
  readonly retryMs: number | undefined;
  /** The last log entry the client has: entries after it are sent. */
  readonly cursor: number;
  /** Frames before the first entry sent, given where the client starts. */
  opening(): string;
  /** The frames of one entry (maybe none, for a client that already has them). */
  entry(e: Entry): string;
  /** Whether `final` needs the whole answer's text (the Responses API repeats it). */
  readonly finalNeedsAnswer: boolean;
  /** The last frames of a finished stream, after its last entry. */
  final(lastSeq: number, outcome: Outcome, answer: string): string;
  /** The last frames for a client this replica stops serving while the stream goes on. */
  handoff(reason: EndReason, lastSeq: number): string;
}

/** Makes a connection's renderer from the client's resume position (undefined: from the start). */
export type RendererFactory = (stream: StreamInfo, position: number | undefined) => Renderer;

/**
 * Whether a format can show a `reset` (the answer starting over after a takeover the upstream
 * could not continue). One that cannot ends the stream as failed instead of splicing two answers.
 */
export type ResetPolicy = 'render' | 'fail';

export interface Format {
  readonly renderer: RendererFactory;
  readonly onReset: ResetPolicy;
}
