import { parseJsonEventStream, readUIMessageStream, uiMessageChunkSchema, type UIMessage, type UIMessageChunk } from 'ai';
import { describe, expect, it } from 'vitest';
import { uiMessageFormat } from '../../../../src/streams/formats/ui-message.js';
import type { Entry, Outcome } from '../../../../src/streams/protocol.js';

const stream = {
  id: 'AAAAAAAAAAAAAAAAAAAAAA',
  format: 'ai_sdk' as const,
  request: { messages: [], max_tokens: 9 },
  createdAt: new Date(),
};

const text = (seq: number, t: string): Entry => ({ kind: 'text', text: t, seq });
const ENTRIES: Entry[] = [
  text(1, 'Hello'),
  text(2, ' wor'),
  { kind: 'reset', seq: 3 },
  { kind: 'tool', index: 0, arguments: '{}', seq: 4 },
  text(5, 'Hello'),
  text(6, ' world'),
];

/** The SSE body one connection gets, from `position`, for a stream that ended with `outcome` (or was handed off). */
function render(outcome: Outcome | 'handoff', position?: number, entries = ENTRIES): string {
  const r = uiMessageFormat.renderer(stream, position);
  const body = r.opening() + entries.map((e) => r.entry(e)).join('');
  const last = entries.at(-1)?.seq ?? 0;
  return body + (outcome === 'handoff' ? r.handoff('server_shutdown', last) : r.final(last, outcome, ''));
}

const sse = (body: string) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode(body));
      c.close();
    },
  });

/** Every chunk through the `ai` package's own parser and schema (what DefaultChatTransport does). */
async function chunks(body: string): Promise<UIMessageChunk[]> {
  const out: UIMessageChunk[] = [];
  const reader = parseJsonEventStream({ stream: sse(body), schema: uiMessageChunkSchema }).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return out;
    if (!value.success) throw value.error;
    out.push(value.value);
  }
}

async function assemble(list: UIMessageChunk[]): Promise<UIMessage | undefined> {
  let last: UIMessage | undefined;
  const errors: unknown[] = [];
  const stream = new ReadableStream<UIMessageChunk>({
    start(c) {
      for (const x of list) c.enqueue(x);
      c.close();
    },
  });
  for await (const m of readUIMessageStream({ stream, onError: (e) => errors.push(e) })) last = m;
  expect(errors.filter((e) => !String(e).includes('upstream failed'))).toEqual([]);
  return last;
}

describe('the UI message stream renderer, read with the ai package', () => {
  it('renders a finished stream the schema accepts and readUIMessageStream assembles', async () => {
    const list = await chunks(render({ finish_reason: 'stop' }));
    expect(list.map((c) => c.type)).toEqual([
      'start',
      'start-step',
      'text-start',
      'text-delta',
      'text-delta',
      'text-end',
      'data-lastcall-reset',
      'text-start',
      'text-delta',
      'text-delta',
      'text-end',
      'finish-step',
      'finish',
    ]);
    expect(list.at(-1)).toEqual({ type: 'finish', finishReason: 'stop' });
    const message = await assemble(list);
    expect(message?.id).toBe(`msg_${stream.id}`);
    const parts = message!.parts.filter((p) => p.type !== 'step-start');
    expect(parts.map((p) => p.type)).toEqual(['text', 'data-lastcall-reset', 'text']);
    expect(parts.map((p) => ('text' in p ? p.text : ''))).toEqual(['Hello wor', '', 'Hello world']);
  });

  it('maps finish reasons to the AI SDK names', async () => {
    const reasons: Record<string, string> = {
      length: 'length',
      tool_calls: 'tool-calls',
      content_filter: 'content-filter',
      x: 'other',
    };
    for (const [ours, theirs] of Object.entries(reasons)) {
      expect((await chunks(render({ finish_reason: ours }))).at(-1)).toEqual({ type: 'finish', finishReason: theirs });
    }
  });

  it('ends a cancelled stream with abort and finish, a failed one with error and finish', async () => {
    const cancelled = await chunks(render({ finish_reason: 'cancelled' }));
    expect(cancelled.slice(-2)).toEqual([
      { type: 'abort', reason: 'cancelled' },
      { type: 'finish', finishReason: 'other' },
    ]);
    const failed = await chunks(render({ error: { code: 'upstream_error', message: 'upstream failed: boom' } }));
    expect(failed.slice(-2)).toEqual([
      { type: 'error', errorText: 'upstream failed: boom' },
      { type: 'finish', finishReason: 'error' },
    ]);
  });

  it('writes nothing at a handoff: no finish, and everything before parses', async () => {
    const list = await chunks(render('handoff'));
    expect(list.some((c) => c.type === 'finish')).toBe(false);
    expect(list.at(-1)).toEqual({ type: 'text-delta', id: 'text-2', delta: ' world' });
    expect(render('handoff')).not.toContain('[DONE]');
  });

  it('replays from chunk N (startIndex): exactly the chunks after the first N', async () => {
    const all = await chunks(render({ finish_reason: 'stop' }));
    for (const n of [0, 1, 3, 4, 7, 12, 13, 20]) {
      expect(await chunks(render({ finish_reason: 'stop' }, n))).toEqual(all.slice(n));
    }
    expect(render({ finish_reason: 'stop' }, 99)).toBe('data: [DONE]\n\n');
  });
});
