import type { TailTarget } from '../http/log-tail.js';
import type { EndReason, Entry, Outcome } from './protocol.js';

/**
 * A client of a stream: what a generation sends entries to and what following the log writes
 * into. An SSE connection (sink.ts) is one; a request that answers only once the stream is over
 * (collector.ts) is another.
 */
export interface StreamClient extends TailTarget<Entry> {
  readonly streamId: string;
  /** The last log entry this client has. */
  cursor: number;
  /** Whether `finish` needs the whole answer's text. */
  readonly finishNeedsAnswer: boolean;
  onClose(fn: () => void): () => void;
  /** The stream is over: its last entries were sent. */
  finish(lastSeq: number, outcome: Outcome, answer?: string): void;
  /** This replica stops serving the client while the stream goes on; resolves once it is told. */
  endResumable(reason: EndReason): Promise<void>;
}
