import type { LogEntry, UpstreamEvent } from '../../../src/llm/upstream.js';

/** An in-memory upstream: yields the events as given. */
export async function* source(events: readonly UpstreamEvent[]): AsyncGenerator<UpstreamEvent> {
  for (const e of events) yield await Promise.resolve(e);
}

export async function collect(events: AsyncIterable<UpstreamEvent>): Promise<UpstreamEvent[]> {
  const out: UpstreamEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

/** Text deltas as events, one token each. */
export const texts = (...pieces: string[]): UpstreamEvent[] => pieces.map((text) => ({ type: 'text', text }));

export const log = (...pieces: string[]): LogEntry[] => pieces.map((text) => ({ kind: 'text', text }));

export const finish = { type: 'finish', finishReason: 'stop' } as const satisfies UpstreamEvent;

/** The answer the events leave in a log that held `before`: text after the last reset. */
export function answerAfter(before: string, events: readonly UpstreamEvent[]): string {
  let text = before;
  for (const e of events) {
    if (e.type === 'reset') text = '';
    else if (e.type === 'text') text += e.text;
  }
  return text;
}
