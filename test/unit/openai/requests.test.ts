import { describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { ApiError } from '../../../src/errors/errors.js';
import { errorBody, toApiError } from '../../../src/http/errors.js';
import { chatCompletionRequest, chatStreamRequest } from '../../../src/openai/chat-request.js';
import { responseRequest, responseStreamRequest } from '../../../src/openai/responses-request.js';

const chat = (body: object) => chatStreamRequest(chatCompletionRequest.parse({ model: 'm', ...body }));
const openAiError = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    const api = toApiError(err, 1024)!;
    return { status: api.status, ...errorBody(api, 'openai').error };
  }
  throw new Error('accepted');
};

describe('chat completion requests', () => {
  it('pass through what the upstream understands, text parts joined, nulls as not given', () => {
    const r = chat({
      messages: [
        {
          role: 'system',
          content: [
            { type: 'text', text: 'be ' },
            { type: 'text', text: 'brief' },
          ],
        },
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', content: 'sunny', tool_call_id: 'c1' },
      ],
      max_completion_tokens: 7,
      temperature: 0.5,
      top_p: null,
      stop: 'END',
      seed: 3,
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: 'auto',
      user: 'u',
      stream: true,
      stream_options: { include_usage: true },
      presence_penalty: 0.1,
    });
    expect(r).toEqual({
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', content: 'sunny', tool_call_id: 'c1' },
      ],
      max_tokens: 7,
      model: 'm',
      temperature: 0.5,
      stop: ['END'],
      seed: 3,
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: 'auto',
      user: 'u',
      include_usage: true,
    });
    expect(chat({ messages: [{ role: 'user', content: 'x' }] }).max_tokens).toBe(4096);
  });

  it('refuses what it cannot honour, naming the parameter as OpenAI does', () => {
    const user = [{ role: 'user', content: 'x' }];
    expect(openAiError(() => chat({ messages: user, n: 2 }))).toMatchObject({
      status: 400,
      param: 'n',
      type: 'invalid_request_error',
    });
    expect(openAiError(() => chat({ messages: user, logprobs: true }))).toMatchObject({ param: 'logprobs' });
    expect(openAiError(() => chat({ messages: user, response_format: { type: 'json_object' } }))).toMatchObject({
      param: 'response_format',
    });
    expect(openAiError(() => chat({ messages: user, stream_options: { include_usage: true } }))).toMatchObject({
      param: 'stream_options',
    });
    expect(openAiError(() => chat({ messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }))).toMatchObject({
      param: 'messages[0].content[0].type',
    });
    expect(openAiError(() => chat({ messages: [{ role: 'user', content: '   ' }] }))).toMatchObject({
      param: 'messages[0].content',
    });
    expect(openAiError(() => chat({ messages: [{ role: 'robot', content: 'x' }] }))).toMatchObject({ param: 'messages[0].role' });
    const deep = JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) as object;
    expect(
      openAiError(() => chat({ messages: user, tools: [{ type: 'function', function: { name: 'f', parameters: deep } }] })),
    ).toMatchObject({ param: 'tools[0].function.parameters' });
    expect(() => chatCompletionRequest.parse({ messages: user })).toThrow(ZodError);
  });
});

describe('Responses requests', () => {
  const resp = (body: object) => responseStreamRequest(responseRequest.parse({ model: 'm', ...body }));

  it('a string or messages as input; instructions lead as a system message and are kept as given', () => {
    expect(resp({ input: 'hi', max_output_tokens: 5 })).toEqual({
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 5,
      model: 'm',
      responses: { background: false, store: true, metadata: {} },
    });
    const r = resp({
      input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hello' }] }],
      instructions: 'be brief',
      background: true,
      metadata: { k: 'v' },
    });
    expect(r.messages).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hello' },
    ]);
    expect(r.responses).toEqual({ background: true, store: true, metadata: { k: 'v' }, instructions: 'be brief' });
  });

  it('background needs store; tools and previous_response_id are refused by name', () => {
    expect(openAiError(() => resp({ input: 'x', background: true, store: false }))).toMatchObject({
      status: 400,
      param: 'store',
    });
    expect(openAiError(() => resp({ input: 'x', tools: [{ type: 'web_search' }] }))).toMatchObject({ param: 'tools' });
    expect(openAiError(() => resp({ input: 'x', previous_response_id: 'resp_1' }))).toMatchObject({
      param: 'previous_response_id',
    });
    expect(openAiError(() => resp({ input: [{ role: 'user', content: [{ type: 'input_image' }] }] }))).toMatchObject({
      param: 'input[0].content[0].type',
    });
    expect(openAiError(() => resp({ input: 'x', max_output_tokens: 0 }))).toMatchObject({ param: 'max_output_tokens' });
  });
});

describe('the error mapper', () => {
  it('writes one ApiError in either shape', () => {
    const err = new ApiError(404, 'model_not_found', 'no such model', {}, { param: 'model' });
    expect(errorBody(err, 'lastcall')).toEqual({ error: { code: 'model_not_found', message: 'no such model' } });
    expect(errorBody(err, 'openai')).toEqual({
      error: { message: 'no such model', type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
    });
    expect(errorBody(new ApiError(429, 'too_many_requests', 'slow down'), 'openai').error.type).toBe('requests');
    expect(errorBody(new ApiError(503, 'draining', 'later'), 'openai').error).toMatchObject({
      type: 'server_error',
      param: null,
    });
  });
});
