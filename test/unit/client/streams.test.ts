import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamProtocolError, streamChat } from '../../../src/client/index.js';

/** A real HTTP server playing scripted SSE responses, one per request. */
async function scripted(responses: ((req: http.IncomingMessage, res: http.ServerResponse) => void)[]) {
  const seen: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req);
    const next = responses.shift();
    if (!next) return res.writeHead(500).end();
    next(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}
const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

const sseHead = { 'Content-Type': 'text/event-stream', 'Lastcall-Stream-Id': 'abc' };
const token = (seq: number, text: string) => `id: ${seq}\nevent: token\ndata: ${JSON.stringify({ text })}\n\n`;
const done = (seq: number) => `id: ${seq}\nevent: done\ndata: {"finish_reason":"stop"}\n\n`;
const body = { messages: [{ role: 'user', content: 'hi' }] };

describe('stream client', () => {
  it('follows end, a cut connection and a 503, resuming from the last id each time', async () => {
    const { url, seen } = await scripted([
      (_q, s) =>
        s
          .writeHead(200, sseHead)
          .end(token(1, 'a') + `event: end\ndata: {"resumable":true,"last_event_id":1,"retry_after_ms":1}\n\n`),
      (_q, s) => s.writeHead(503, { 'Retry-After': '0' }).end('{}'),
      (_q, s) => {
        s.writeHead(200, sseHead).write(token(2, 'b'));
        setTimeout(() => s.destroy(), 20);
      },
      (_q, s) => s.writeHead(200, sseHead).end(token(3, 'c') + done(4)),
    ]);
    const r = await streamChat(url, body, { retryDelayMs: 1 });
    expect(r).toMatchObject({ streamId: 'abc', text: 'abc', lastEventId: 3, finishReason: 'stop', resumes: 2, retried503: 1 });
    expect(seen.map((q) => q.headers['last-event-id'])).toEqual([undefined, '1', '1', '2']);
    expect(seen.slice(1).every((q) => q.url === '/v1/streams/abc')).toBe(true);
  });

  it('throws on a gap and on a repeat', async () => {
    const gap = await scripted([(_q, s) => s.writeHead(200, sseHead).end(token(1, 'a') + token(3, 'c'))]);
    await expect(streamChat(gap.url, body)).rejects.toThrow(StreamProtocolError);
    const repeat = await scripted([(_q, s) => s.writeHead(200, sseHead).end(token(1, 'a') + token(1, 'a'))]);
    await expect(streamChat(repeat.url, body)).rejects.toThrow(/repeat/);
  });

  it('ends with error set on an error event', async () => {
    const { url } = await scripted([
      (_q, s) =>
        s
          .writeHead(200, sseHead)
          .end(token(1, 'a') + 'id: 2\nevent: error\ndata: {"code":"upstream_error","message":"boom"}\n\n'),
    ]);
    expect(await streamChat(url, body)).toMatchObject({ text: 'a', error: { message: 'boom' } });
  });
});
