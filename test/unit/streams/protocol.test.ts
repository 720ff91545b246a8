import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/errors/errors.js';
import { nativeFormat } from '../../../src/streams/formats/native.js';
import { chatRequest, isStreamId, lastEventId, newStreamId } from '../../../src/streams/protocol.js';

const req = (header: string | undefined, after?: string) =>
  ({
    get: (name: string) => (name === 'last-event-id' ? header : undefined),
    query: after === undefined ? {} : { after },
  }) as unknown as Request;

describe('streams protocol', () => {
  it('takes Last-Event-ID over ?after and rejects malformed ids with 400', () => {
    expect(lastEventId(req(undefined))).toBe(0);
    expect(lastEventId(req(undefined, '12'))).toBe(12);
    expect(lastEventId(req('7', '12'))).toBe(7);
    for (const bad of ['x', '-1', '1.5', '9999999999']) {
      expect(() => lastEventId(req(bad))).toThrow(ApiError);
    }
  });

  it('makes 128-bit base64url stream ids', () => {
    const ids = new Set(Array.from({ length: 100 }, newStreamId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(isStreamId(id)).toBe(true);
    expect(isStreamId('short')).toBe(false);
  });

  it('defaults max_tokens to the limit and bounds messages', () => {
    expect(chatRequest.parse({ messages: [{ role: 'user', content: 'hi' }] }).max_tokens).toBe(4096);
    expect(chatRequest.safeParse({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 4097 }).success).toBe(false);
    expect(chatRequest.safeParse({ messages: [] }).success).toBe(false);
  });

  it('numbers done and error after the last token and gives end no id', () => {
    const native = nativeFormat.renderer(
      { id: 's', format: 'native', request: { messages: [], max_tokens: 5 }, createdAt: new Date() },
      0,
    );
    expect(native.entry({ kind: 'text', text: 'a\nb', seq: 3 })).toBe('id: 3\nevent: token\ndata: {"text":"a\\nb"}\n\n');
    expect(native.final(3, { finish_reason: 'stop' }, '')).toMatch(/^id: 4\nevent: done\n/);
    expect(native.final(3, { error: { code: 'x', message: 'y' } }, '')).toMatch(/^id: 4\nevent: error\n/);
    expect(native.handoff('server_shutdown', 3)).not.toMatch(/^id:/m);
    expect(native.entry({ kind: 'reset', seq: 4 })).toBe(
      'id: 4\nevent: reset\ndata: {"reason":"upstream_cannot_continue","stream_id":"s"}\n\n',
    );
  });
});
