import { describe, expect, it } from 'vitest';
import { chatCompletionsFormat } from '../../../src/streams/formats/chat-completions.js';
import { lastSequenceNumber, responsesFormat } from '../../../src/streams/formats/responses.js';
import type { Entry, Outcome, StreamRequest } from '../../../src/streams/protocol.js';
import type { Format, StreamInfo } from '../../../src/streams/render.js';

const request: StreamRequest = { messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, model: 'm', include_usage: true };
const info = (over: Partial<StreamRequest> = {}): StreamInfo => ({
  id: 'AAAAAAAAAAAAAAAAAAAAAA',
  format: 'chat_completions',
  request: { ...request, ...over },
  createdAt: new Date(1_700_000_000_000),
});
const log: Entry[] = [
  { kind: 'text', text: 'a', seq: 1 },
  { kind: 'text', text: 'b', seq: 2 },
  { kind: 'text', text: 'c', seq: 3 },
];
const done: Outcome = { finish_reason: 'length', usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 } };

/** Everything a connection from `position` receives of a finished stream, as (id, data) frames. */
function render(format: Format, stream: StreamInfo, position: number | undefined, outcome = done) {
  const r = format.renderer(stream, position);
  const body =
    r.opening() +
    log
      .filter((e) => e.seq > r.cursor)
      .map((e) => r.entry(e))
      .join('') +
    r.final(3, outcome, 'abc');
  return body
    .split('\n\n')
    .filter(Boolean)
    .map((f) => ({ id: /^id: (\d+)$/m.exec(f)?.[1], data: /^data: (.*)$/m.exec(f)![1]! }));
}

describe('chat.completion.chunk rendering', () => {
  it('gives every chunk an SSE id: role 0, entry n as n, the closing chunks lastSeq + 1; [DONE] last', () => {
    const frames = render(chatCompletionsFormat, info(), undefined);
    expect(frames.map((f) => f.id)).toEqual(['0', '1', '2', '3', '4', '4', undefined]);
    expect(frames.at(-1)!.data).toBe('[DONE]');
    expect(JSON.parse(frames[4]!.data)).toMatchObject({ choices: [{ finish_reason: 'length', delta: {} }], usage: null });
    expect(JSON.parse(frames[5]!.data)).toMatchObject({ choices: [], usage: { total_tokens: 4 } });
  });

  it('resumes after the id a client has: nothing twice, only [DONE] once it has the closing chunks', () => {
    expect(render(chatCompletionsFormat, info(), 2).map((f) => f.id)).toEqual(['3', '4', '4', undefined]);
    expect(render(chatCompletionsFormat, info(), 4).map((f) => f.data)).toEqual(['[DONE]']);
    const failed = { error: { code: 'upstream_error', message: 'boom' } };
    expect(render(chatCompletionsFormat, info(), 4, failed)).toEqual([]);
    expect(JSON.parse(render(chatCompletionsFormat, info(), 3, failed)[0]!.data)).toEqual({
      error: { message: 'boom', type: 'server_error', param: null, code: 'upstream_error' },
    });
  });
});

describe('Responses event rendering', () => {
  const stream = (background: boolean) => info({ responses: { background, store: true, metadata: {} }, include_usage: false });

  it('numbers events 0… gap-free as a pure function of the log; the last is lastSequenceNumber', () => {
    const frames = render(responsesFormat, stream(true), undefined);
    const events = frames.map(
      (f) => JSON.parse(f.data) as { type: string; sequence_number: number; response?: { status: string } },
    );
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(frames.map((f) => Number(f.id))).toEqual(events.map((_, i) => i));
    expect(events.at(-1)!.sequence_number).toBe(lastSequenceNumber(3, 'incomplete'));
    expect(events[0]).toMatchObject({ type: 'response.created', response: { status: 'queued' } });
    expect(JSON.parse(render(responsesFormat, stream(false), undefined)[0]!.data)).toMatchObject({
      response: { status: 'in_progress' },
    });
  });

  it('starting_after N sends exactly the events after N, also from inside the closing events', () => {
    const all = render(responsesFormat, stream(true), undefined);
    for (let n = 0; n <= lastSequenceNumber(3, 'incomplete'); n++) {
      const r = responsesFormat.renderer(stream(true), n);
      // The cursor never passes the log's end, so a finished stream's check never calls it ahead.
      expect(r.cursor).toBeLessThanOrEqual(3);
      expect(render(responsesFormat, stream(true), n)).toEqual(all.slice(n + 1));
    }
  });

  it('a failed or cancelled response ends with one event', () => {
    const failed = render(responsesFormat, stream(true), undefined, { error: { code: 'x', message: 'y' } });
    expect(JSON.parse(failed.at(-1)!.data)).toMatchObject({
      type: 'response.failed',
      sequence_number: lastSequenceNumber(3, 'failed'),
    });
  });
});

describe('the text chunk written per token', () => {
  it('is exactly the JSON of the whole chunk, whatever the text or model name holds', () => {
    for (const model of ['m', 'a "content":"" b', 'ü\u2028\\']) {
      const r = chatCompletionsFormat.renderer(info({ model }), undefined);
      for (const text of ['x', '', '"quoted"', '\n\\ ü 😀', '"content":""']) {
        const frame = r.entry({ kind: 'text', text, seq: 7 });
        const expected = {
          id: 'chatcmpl-AAAAAAAAAAAAAAAAAAAAAA',
          object: 'chat.completion.chunk',
          created: 1_700_000_000,
          model,
          usage: null,
          choices: [{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }],
        };
        expect(frame).toBe(`id: 7\ndata: ${JSON.stringify(expected)}\n\n`);
      }
    }
  });
});
