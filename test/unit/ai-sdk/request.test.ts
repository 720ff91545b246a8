import { describe, expect, it } from 'vitest';
import { aiSdkChatRequest, streamRequest } from '../../../src/ai-sdk/request.js';
import { toApiError } from '../../../src/http/errors.js';

const user = (text: string, id = 'u1') => ({ id, role: 'user', parts: [{ type: 'text', text }] });

/** The 400 message the API would answer with (field path first). */
function refusal(body: unknown): string {
  const r = aiSdkChatRequest.safeParse(body);
  expect(r.success).toBe(false);
  return toApiError(r.error, 1)!.message;
}

describe('AI SDK chat requests', () => {
  it('takes what DefaultChatTransport sends and converts UI messages to the upstream conversation', () => {
    const body = aiSdkChatRequest.parse({
      id: 'k3J9xQ2mW8pL1vZa',
      messages: [
        { id: 's', role: 'system', parts: [{ type: 'text', text: 'Be brief.' }] },
        user('First question'),
        {
          id: 'msg_a',
          role: 'assistant',
          metadata: { anything: true },
          parts: [
            { type: 'step-start' },
            { type: 'reasoning', text: 'thinking', state: 'done' },
            { type: 'text', text: 'Partial answ', state: 'done' },
            { type: 'data-lastcall-reset', data: { reason: 'upstream_cannot_continue' } },
            { type: 'text', text: 'Whole ', state: 'done' },
            { type: 'text', text: 'answer.', state: 'done' },
            { type: 'source-url', sourceId: 's1', url: 'https://example.com' },
          ],
        },
        { id: 'msg_b', role: 'assistant', parts: [{ type: 'step-start' }] },
        {
          id: 'u2',
          role: 'user',
          parts: [
            { type: 'text', text: 'Line one' },
            { type: 'data-x', data: 1 },
            { type: 'text', text: 'Line two' },
          ],
        },
      ],
      trigger: 'submit-message',
      messageId: undefined,
      max_tokens: 64,
    });
    expect(streamRequest(body)).toEqual({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'First question' },
        { role: 'assistant', content: 'Whole answer.' },
        { role: 'user', content: 'Line one\nLine two' },
      ],
      max_tokens: 64,
    });
    expect(body.trigger).toBe('submit-message');
  });

  it('defaults trigger and max_tokens and accepts regenerate with a messageId', () => {
    const body = aiSdkChatRequest.parse({ id: 'c', messages: [user('hi')], trigger: 'regenerate-message', messageId: 'msg_x' });
    expect(body).toMatchObject({ trigger: 'regenerate-message', messageId: 'msg_x', max_tokens: 4096 });
    expect(aiSdkChatRequest.parse({ id: 'c', messages: [user('hi')] }).trigger).toBe('submit-message');
  });

  it('refuses bad input with a message naming the field', () => {
    expect(refusal({ messages: [user('hi')] })).toMatch(/^id: /);
    expect(refusal({ id: '..', messages: [user('hi')] })).toMatch(/^id: must be 1 to 128 characters/);
    expect(refusal({ id: 'a/b', messages: [user('hi')] })).toMatch(/^id: /);
    expect(refusal({ id: 'c', messages: [] })).toMatch(/^messages: /);
    expect(
      refusal({ id: 'c', messages: [user('hi'), { id: 'a', role: 'assistant', parts: [{ type: 'text', text: 'x' }] }] }),
    ).toBe("messages.1.role: the last message must be the user's");
    expect(refusal({ id: 'c', messages: [user('  \n ')] })).toBe(
      'messages.0.parts: a user message needs a text part that is not blank',
    );
    expect(refusal({ id: 'c', messages: [user('a\u0000b')] })).toBe('messages.0.parts.0.text: must not contain U+0000 (NUL)');
    expect(refusal({ id: 'c', messages: [user('x'.repeat(32_001))] })).toMatch(/^messages\.0\.parts\.0\.text: /);
    expect(
      refusal({
        id: 'c',
        messages: [
          {
            id: 'u',
            role: 'user',
            parts: [
              { type: 'text', text: 'look' },
              { type: 'file', mediaType: 'image/png', url: 'data:' },
            ],
          },
        ],
      }),
    ).toBe('messages.0.parts.1.type: file parts (attachments) are not supported by lastcall: send the text');
    expect(
      refusal({
        id: 'c',
        messages: [
          user('q'),
          { id: 'a', role: 'assistant', parts: [{ type: 'tool-weather', toolCallId: 't', state: 'output-available' }] },
          user('again', 'u2'),
        ],
      }),
    ).toBe('messages.1.parts.0.type: tool parts are not supported: lastcall passes no tools to the upstream');
    expect(refusal({ id: 'c', messages: [{ id: 'u', role: 'user', parts: [{ type: 'video', text: 'x' }] }] })).toBe(
      'messages.0.parts.0.type: unknown part type "video"',
    );
    expect(refusal({ id: 'c', messages: [{ id: 'u', role: 'tool', parts: [] }] })).toMatch(/^messages\.0\.role: /);
    expect(refusal({ id: 'c', messages: [user('hi')], trigger: 'other' })).toMatch(/^trigger: /);
    expect(refusal({ id: 'c', messages: [user('hi')], max_tokens: 4097 })).toMatch(/^max_tokens: /);
    expect(refusal({ id: 'c', messages: Array.from({ length: 101 }, (_, i) => user('hi', `u${i}`)) })).toMatch(/^messages: /);
    const manyParts = { id: 'u', role: 'user', parts: Array.from({ length: 101 }, () => ({ type: 'text', text: 'a' })) };
    expect(refusal({ id: 'c', messages: [manyParts] })).toMatch(/^messages\.0\.parts: /);
    const tooLong = {
      id: 'u',
      role: 'user',
      parts: Array.from({ length: 3 }, () => ({ type: 'text', text: 'a'.repeat(12_000) })),
    };
    expect(refusal({ id: 'c', messages: [tooLong] })).toBe(
      'messages.0.parts: text parts hold 36000 characters; at most 32000 per message',
    );
  });
});
