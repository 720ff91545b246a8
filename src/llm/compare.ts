import { keyOf, persistedAnswer, SegmentBuilder, segmentEvent, type Segment, type TextOrTool } from './answer.js';
import type { LogEntry, UpstreamCursor, UpstreamEvent } from './upstream.js';

/** Set once the regenerated answer has passed the persisted one, differed from it, or finished. */
export interface Comparison {
  resolved: boolean;
}

/**
 * Restart behaviour: `source` regenerates the whole answer; this compares it, as it streams, with
 * the answer the log holds (text and tool calls, in the order they were written).
 *
 * - While the regenerated answer is a prefix of the persisted one, nothing is appended: one
 *   `regenerated` event per piece says how much was generated again.
 * - Once it passes the persisted answer exactly, what lies beyond is appended (a piece that
 *   straddles the end is split there) and the rest streams on as it comes.
 * - At the first difference, or when it finishes short of the persisted answer: one `reset`, the
 *   whole regenerated answer so far (one event per text run or tool call), then the rest as it comes.
 *
 * A tool call's id is not compared: providers mint a fresh one per generation; the log keeps the
 * persisted call's id when the regenerated call matches it.
 *
 * Cursor events are held back until the comparison resolves, then given once with the cursor of
 * the last upstream event seen: before that, the log holds an answer from another upstream
 * generation, and persisting the new one's cursor would let a later takeover re-attach to events
 * that repeat what the log already has.
 */
export async function* continueByComparing(
  entries: readonly LogEntry[],
  source: AsyncIterable<UpstreamEvent>,
  comparison: Comparison = { resolved: false },
): AsyncGenerator<UpstreamEvent> {
  const matcher = new Matcher(persistedAnswer(entries).segments);
  const regenerated = new SegmentBuilder();
  let lastCursor: UpstreamCursor | undefined;
  let heldCursor = false;
  comparison.resolved = matcher.empty;

  function* diverge(): Generator<UpstreamEvent> {
    yield { type: 'reset', ...(lastCursor && { cursor: lastCursor }) };
    for (const s of regenerated.segments) yield segmentEvent(s, lastCursor);
  }

  for await (const e of source) {
    if (comparison.resolved) {
      yield e;
      continue;
    }
    if ((e.type === 'cursor' || e.type === 'text' || e.type === 'tool' || e.type === 'reset') && e.cursor) lastCursor = e.cursor;
    if (e.type === 'cursor') {
      heldCursor = true;
      continue;
    }
    if (e.type === 'finish') {
      if (!matcher.atEnd) yield* diverge();
      comparison.resolved = true;
      yield e;
      continue;
    }
    if (e.type !== 'text' && e.type !== 'tool') {
      yield e;
      continue;
    }
    const step = matcher.step(e);
    regenerated.add(e);
    if (step.kind === 'same') {
      if (step.tokens > 0) yield { type: 'regenerated', tokens: step.tokens };
      continue;
    }
    comparison.resolved = true;
    if (step.kind === 'passed') yield { ...step.beyond, ...(lastCursor && { cursor: lastCursor }) };
    else yield* diverge();
    if (heldCursor && lastCursor) yield { type: 'cursor', cursor: lastCursor };
  }
}

type Step = { kind: 'same'; tokens: number } | { kind: 'passed'; beyond: TextOrTool } | { kind: 'differs' };

/** Where the regenerated answer stands in the persisted one: segment `i`, `offset` characters into it. */
class Matcher {
  private i = 0;
  private offset = 0;
  /** The regenerated answer has reached segment `i`. */
  private entered = false;

  constructor(private readonly persisted: readonly Segment[]) {}

  get empty(): boolean {
    return this.persisted.length === 0;
  }

  /** The regenerated answer so far is the whole persisted answer. */
  get atEnd(): boolean {
    const last = this.persisted.length - 1;
    return last < 0 || (this.i === last && this.entered && this.offset === this.persisted[last]!.text.length);
  }

  step(piece: TextOrTool): Step {
    const key = keyOf(piece);
    const text = piece.type === 'text' ? piece.text : piece.arguments;
    const header = piece.type === 'tool' && (piece.id !== undefined || piece.name !== undefined);
    if (text === '' && !header) return { kind: 'same', tokens: 0 };
    const lastIndex = this.persisted.length - 1;
    let seg = this.persisted[this.i];
    if (!seg) return { kind: 'passed', beyond: piece };
    if (this.entered && seg.key !== key) {
      // The regenerated answer moves to another channel: only where the persisted one did too.
      if (this.offset < seg.text.length) return { kind: 'differs' };
      if (this.i === lastIndex) return { kind: 'passed', beyond: piece };
      seg = this.persisted[++this.i]!;
      this.offset = 0;
      this.entered = false;
    }
    if (!this.entered) {
      if (seg.key !== key) return { kind: 'differs' };
      this.entered = true;
    }
    if (piece.type === 'tool' && piece.name !== undefined && piece.name !== seg.name) return { kind: 'differs' };
    const rest = seg.text.slice(this.offset);
    if (rest.startsWith(text)) {
      this.offset += text.length;
      return { kind: 'same', tokens: 1 };
    }
    if (text.startsWith(rest) && this.i === lastIndex) {
      this.offset = seg.text.length;
      const beyond = text.slice(rest.length);
      // The log already holds this call's id and name: only the arguments beyond it are new.
      return {
        kind: 'passed',
        beyond: piece.type === 'text' ? { type: 'text', text: beyond } : { type: 'tool', index: piece.index, arguments: beyond },
      };
    }
    return { kind: 'differs' };
  }
}
