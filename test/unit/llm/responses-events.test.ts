import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { describe, expect, it } from 'vitest';
import { persistedAnswer } from '../../../src/llm/answer.js';
import { ResponseEventMapper, responsesInput } from '../../../src/llm/responses.js';
import { UpstreamError } from '../../../src/llm/upstream.js';

// Events in the shape of https://platform.openai.com/docs/api-reference/responses-streaming, trimmed
// to the fields the mapper reads.
const response = (over: object = {}) => ({ id: 'resp_1', status: 'in_progress', usage: null, incomplete_details: null, ...over });
const ev = (e: object) => e as ResponseStreamEvent;
const at = (sequence: number) => ({ responseId: 'resp_1', sequence });

describe('ResponseEventMapper', () => {
  it('gives the cursor once the id is known, and every delta with the cursor after it', () => {
    const m = new ResponseEventMapper();
    expect(m.map(ev({ type: 'response.created', sequence_number: 0, response: response({ status: 'queued' }) }))).toEqual([
      { type: 'cursor', cursor: at(0) },
    ]);
    expect(m.map(ev({ type: 'response.in_progress', sequence_number: 1, response: response() }))).toEqual([]);
    expect(m.map(ev({ type: 'response.output_text.delta', sequence_number: 4, delta: 'Hi' }))).toEqual([
      { type: 'text', text: 'Hi', cursor: at(4) },
    ]);
  });

  it('finishes with stop on completed, length on incomplete (max_output_tokens), usage from the final response', () => {
    const usage = { input_tokens: 7, output_tokens: 3 };
    const done = new ResponseEventMapper('resp_1');
    expect(done.map(ev({ type: 'response.completed', sequence_number: 9, response: response({ usage }) }))).toEqual([
      { type: 'finish', finishReason: 'stop', usage: { promptTokens: 7, completionTokens: 3 } },
    ]);
    expect(done.finished).toBe(true);
    const capped = new ResponseEventMapper('resp_1');
    const incomplete = response({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, usage });
    expect(capped.map(ev({ type: 'response.incomplete', sequence_number: 9, response: incomplete }))).toEqual([
      { type: 'finish', finishReason: 'length', usage: { promptTokens: 7, completionTokens: 3 } },
    ]);
  });

  it('a failed response is a non-retryable UpstreamError with the provider message; an error event is retryable', () => {
    const failed = response({ status: 'failed', error: { code: 'server_error', message: 'The model melted.' } });
    const m = new ResponseEventMapper('resp_1');
    let err: unknown;
    try {
      m.map(ev({ type: 'response.failed', sequence_number: 5, response: failed }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ retryable: false, message: expect.stringContaining('The model melted.') });
    expect(() => m.map(ev({ type: 'error', sequence_number: 6, code: null, message: 'oops', param: null }))).toThrow(
      expect.objectContaining({ retryable: true }),
    );
  });

  it('maps function calls to tool pieces, indexed in the order they appear', () => {
    const m = new ResponseEventMapper('resp_1');
    const item = { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'lookup', arguments: '' };
    expect(m.map(ev({ type: 'response.output_item.added', sequence_number: 2, output_index: 0, item }))).toEqual([
      { type: 'tool', index: 0, id: 'call_1', name: 'lookup', arguments: '', cursor: at(2) },
    ]);
    expect(
      m.map(ev({ type: 'response.function_call_arguments.delta', sequence_number: 3, item_id: 'fc_1', delta: '{"q"' })),
    ).toEqual([{ type: 'tool', index: 0, arguments: '{"q"', cursor: at(3) }]);
    expect(m.map(ev({ type: 'response.completed', sequence_number: 9, response: response({ status: 'completed' }) }))).toEqual([
      { type: 'finish', finishReason: 'tool_calls' },
    ]);
  });
});

describe('responsesInput', () => {
  it('keeps roles, and turns tool calls and results into function_call items', () => {
    expect(
      responsesInput([
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{}' } }],
        },
        { role: 'tool', content: 'sunny', tool_call_id: 'call_1' },
      ]),
    ).toEqual([
      { type: 'message', role: 'system', content: 'Be brief.' },
      { type: 'message', role: 'user', content: 'Weather?' },
      { type: 'function_call', call_id: 'call_1', name: 'weather', arguments: '{}' },
      { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
    ]);
  });
});

describe('persistedAnswer', () => {
  it('is the answer after the last reset; each of its entries counts as a token', () => {
    const a = persistedAnswer([
      { kind: 'text', text: 'old' },
      { kind: 'reset' },
      { kind: 'text', text: 'New' },
      { kind: 'text', text: ' one' },
    ]);
    expect(a).toMatchObject({ text: 'New one', tokens: 2, hasToolCalls: false });
    expect(persistedAnswer([{ kind: 'tool', index: 0, id: 'c', name: 'f', arguments: '' }]).hasToolCalls).toBe(true);
  });
});
