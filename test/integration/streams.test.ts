import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resumeStream, streamChat } from '../../src/client/index.js';
import { issueTicket } from '../../src/http/tickets.js';
import { plan } from '../../src/upstream/text.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

type ErrorBody = { error: { code: string } };
const KEY = 'key-one-0123456789abcdefghij';
const OTHER = 'key-two-0123456789abcdefghij';
const body = (content: string, max_tokens = 60) => ({ messages: [{ role: 'user', content }], max_tokens });
const reference = (b: ReturnType<typeof body>) => plan(b.messages, b.max_tokens).tokens.join('');
/** What the server issues with a stream for KEY (the same HMAC, computed here for a stream started by the typed client). */
const streamTicket = (id: string) =>
  issueTicket({ key: KEY, owner: `key:${createHash('sha256').update(KEY).digest('hex').slice(0, 16)}` }, id);

describe('streams API on one replica (embedded PGlite)', () => {
  let svc: ServiceProcess;
  const get = (id: string, headers: Record<string, string> = {}, query = '') =>
    fetch(`${svc.url}/v1/streams/${id}${query}`, { headers: { Authorization: `Bearer ${KEY}`, ...headers } });
  const post = (payload: unknown) =>
    fetch(`${svc.url}/v1/chat/stream`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(payload),
    });
  const metric = (line: string) => svc.metric(line);

  beforeAll(async () => {
    svc = await startService({ API_KEYS: `${KEY},${OTHER}`, MAX_CONCURRENT_STREAMS: '2', DEV_UPSTREAM_TOKENS_PER_SECOND: '200' });
  });
  afterAll(() => svc?.kill('SIGKILL'));

  it('streams the exact completion with gap-free ids and an unguessable stream id', async () => {
    const b = body('first stream');
    const r = await streamChat(svc.url, b, { apiKey: KEY });
    expect(r.text).toBe(reference(b));
    expect(r.lastEventId).toBe(60);
    expect(r.finishReason).toBe('length');
    expect(r.usage).toMatchObject({ completion_tokens: 60 });
    expect(r.streamId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await metric('lastcall_stream_tokens_total')).toBeGreaterThanOrEqual(60);
    expect(await metric('lastcall_streams_total{outcome="completed"')).toBeGreaterThanOrEqual(1);
  });

  it('resumes a finished stream from any id, answers `done` at once for the done id, and 409s beyond it', async () => {
    const b = body('resume me');
    const r = await streamChat(svc.url, b, { apiKey: KEY });
    const middle = await resumeStream(svc.url, r.streamId, 25, { apiKey: KEY });
    expect(middle.text).toBe(plan(b.messages, b.max_tokens).tokens.slice(25).join(''));
    const t0 = performance.now();
    const afterDone = await resumeStream(svc.url, r.streamId, 61, { apiKey: KEY });
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(afterDone).toMatchObject({ text: '', finishReason: 'length', events: 1 });
    // An EventSource cannot send the key: it presents the stream's ticket (from the POST) and
    // resumes with ?after= on first connect. The key itself in the URL is refused by default.
    const posted = await post(b);
    const ticket = posted.headers.get('lastcall-stream-ticket')!;
    const otherId = posted.headers.get('lastcall-stream-id')!;
    await posted.text();
    expect(ticket).toMatch(/^\d+\.[A-Za-z0-9_-]{43}$/);
    expect((await fetch(`${svc.url}/v1/streams/${r.streamId}?after=59&key=${KEY}`)).status).toBe(401);
    expect((await fetch(`${svc.url}/v1/streams/${r.streamId}?after=59&ticket=${ticket}`)).status).toBe(401);
    expect((await fetch(`${svc.url}/v1/streams/${otherId}?after=0&ticket=${ticket}`)).status).toBe(200);
    const viaQuery = await fetch(`${svc.url}/v1/streams/${r.streamId}?after=59&ticket=${streamTicket(r.streamId)}`);
    expect(viaQuery.headers.get('content-type')).toContain('text/event-stream');
    const sse = await viaQuery.text();
    expect(sse.startsWith('retry: 250\n\n')).toBe(true);
    expect(sse).toContain('id: 60\nevent: token\n');
    expect(sse).toContain('id: 61\nevent: done\n');
    const ahead = await get(r.streamId, { 'Last-Event-ID': '62' });
    expect(ahead.status).toBe(409);
    expect(((await ahead.json()) as ErrorBody).error.code).toBe('ahead_of_log');
  });

  it('rejects bad input with 400/404 JSON naming the problem', async () => {
    const r = await streamChat(svc.url, body('owned', 5), { apiKey: KEY });
    const malformed = await get(r.streamId, { 'Last-Event-ID': 'seven' });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as ErrorBody).error.code).toBe('invalid_last_event_id');
    expect((await get(r.streamId, {}, '?after=-1')).status).toBe(400);
    expect((await get('AAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
    expect((await get('not-an-id')).status).toBe(404);
    // Another key's stream looks missing.
    expect((await get(r.streamId, { Authorization: `Bearer ${OTHER}` })).status).toBe(404);
    for (const bad of [
      { messages: [] },
      { messages: [{ role: 'user', content: '' }] },
      { messages: [{ role: 'user', content: 'x'.repeat(32_001) }] },
      { messages: Array.from({ length: 101 }, () => ({ role: 'user', content: 'hi' })) },
      { messages: [{ role: 'robot', content: 'hi' }] },
      { messages: [{ role: 'user', content: 'hi' }], max_tokens: 0 },
      { messages: [{ role: 'user', content: 'hi' }], max_tokens: 4097 },
    ]) {
      const res = await post(bad);
      expect(res.status, JSON.stringify(bad).slice(0, 80)).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code).toBe('invalid_request');
    }
  });

  it('caps concurrent generations at MAX_CONCURRENT_STREAMS and client connections at twice that, with 429 + Retry-After', async () => {
    const running = [0, 1].map(() => new AbortController());
    const started = await Promise.all(
      running.map((c, i) =>
        fetch(`${svc.url}/v1/chat/stream`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
          body: JSON.stringify(body(`long ${i}`, 4000)),
          signal: c.signal,
        }),
      ),
    );
    expect(started.map((r) => r.status)).toEqual([200, 200]);
    const refused = await post(body('one too many'));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await metric('lastcall_http_rejected_total{reason="too_many_streams"')).toBeGreaterThanOrEqual(1);

    // Client connections are capped too, at twice the generations: two more readers of a
    // running stream fit, the next one is refused before it holds a socket and a poller.
    const id = started[0]!.headers.get('lastcall-stream-id')!;
    const readers = [0, 1].map(() => new AbortController());
    const joined = await Promise.all(
      readers.map((c) => fetch(`${svc.url}/v1/streams/${id}`, { headers: { Authorization: `Bearer ${KEY}` }, signal: c.signal })),
    );
    expect(joined.map((r) => r.status)).toEqual([200, 200]);
    const oneReaderTooMany = await get(id);
    expect(oneReaderTooMany.status).toBe(429);
    expect(oneReaderTooMany.headers.get('retry-after')).toBe('1');
    expect(await oneReaderTooMany.json()).toMatchObject({
      error: { code: 'too_many_requests', message: expect.stringMatching(/4 streams to clients/) },
    });
    expect(await metric('lastcall_http_rejected_total{reason="too_many_stream_clients"')).toBe(1);
    for (const c of [...running, ...readers]) c.abort();
  });

  it('a client abort stops the generation and releases it; a later GET continues it exactly', async () => {
    const aborted = () => metric('lastcall_streams_total{outcome="client_aborted"');
    // Streams aborted by the previous test are settled first, so only this one is counted.
    for (let i = 0; i < 50 && (await metric('lastcall_streams_active')) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    const abortedBefore = await aborted();
    const b = body('abandoned then resumed', 120);
    const res = await post(b);
    const id = res.headers.get('lastcall-stream-id')!;
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    for (let seen = ''; !seen.includes('id: 20\n');) seen += (await reader.read()).value ?? '';
    await reader.cancel(); // the only client goes away
    for (let i = 0; i < 50 && (await aborted()) === abortedBefore; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await aborted()).toBe(abortedBefore + 1);
    const tokens = await metric('lastcall_stream_tokens_total');
    await new Promise((r) => setTimeout(r, 300));
    expect(await metric('lastcall_stream_tokens_total')).toBe(tokens); // no upstream call left running
    const resumed = await resumeStream(svc.url, id, 0, { apiKey: KEY });
    expect(resumed.text).toBe(reference(b));
    expect(resumed.lastEventId).toBe(120);
  });
});
