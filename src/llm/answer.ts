import type { LogEntry, UpstreamCursor, UpstreamEvent } from './upstream.js';

/**
 * One run of the answer on one channel: its text, or one tool call's arguments. Consecutive pieces
 * on the same channel are one segment, so two answers compare regardless of how they were split.
 */
export interface Segment {
  /** `text`, or `tool:<index>`. */
  readonly key: string;
  readonly index?: number;
  id?: string;
  name?: string;
  text: string;
}

/** The answer a log holds now (the entries after the last reset), as a continuation needs it. */
export interface PersistedAnswer {
  readonly text: string;
  /** The answer's entries: a continuation asks the upstream only for `maxTokens` minus these. */
  readonly tokens: number;
  readonly hasToolCalls: boolean;
  readonly segments: readonly Segment[];
}

export function persistedAnswer(entries: readonly LogEntry[]): PersistedAnswer {
  let start = 0;
  entries.forEach((e, i) => {
    if (e.kind === 'reset') start = i + 1;
  });
  const answer = new SegmentBuilder();
  let tokens = 0;
  for (const e of entries.slice(start)) {
    if (e.kind === 'reset') continue;
    tokens++;
    answer.add(
      e.kind === 'text'
        ? { type: 'text', text: e.text }
        : { type: 'tool', index: e.index, ...defined({ id: e.id, name: e.name }), arguments: e.arguments },
    );
  }
  const segments = answer.segments;
  return {
    text: segments.filter((s) => s.key === 'text').reduce((t, s) => t + s.text, ''),
    tokens,
    hasToolCalls: segments.some((s) => s.key !== 'text'),
    segments,
  };
}

/** Text and tool pieces in arrival order, merged into segments. */
export class SegmentBuilder {
  readonly segments: Segment[] = [];

  add(piece: TextOrTool): void {
    const key = keyOf(piece);
    const text = piece.type === 'text' ? piece.text : piece.arguments;
    const last = this.segments.at(-1);
    const header = piece.type === 'tool' && (piece.id !== undefined || piece.name !== undefined);
    if (text === '' && !header) return;
    if (last?.key === key) {
      last.text += text;
      if (piece.type === 'tool') {
        last.id ??= piece.id;
        last.name ??= piece.name;
      }
      return;
    }
    this.segments.push(
      piece.type === 'text' ? { key, text } : { key, index: piece.index, text, ...defined({ id: piece.id, name: piece.name }) },
    );
  }
}

export type TextOrTool = Extract<UpstreamEvent, { type: 'text' | 'tool' }>;

export const keyOf = (piece: TextOrTool) => (piece.type === 'text' ? 'text' : `tool:${piece.index}`);

/** A segment as the one event that carries it whole. */
export function segmentEvent(s: Segment, cursor: UpstreamCursor | undefined): TextOrTool {
  const after = cursor ? { cursor } : {};
  if (s.key === 'text') return { type: 'text', text: s.text, ...after };
  return { type: 'tool', index: s.index ?? 0, ...defined({ id: s.id, name: s.name }), arguments: s.text, ...after };
}

/** The object without its undefined properties (events compare and serialise without them). */
export function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
