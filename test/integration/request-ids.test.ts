import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type ServiceProcess } from '../../testkit/service.js';

/** Request ids and access logs: one line per request, and the id on every line written for it. */
describe('request ids and the access log', () => {
  let svc: ServiceProcess;
  const KEY = 'reqid-key-0123456789abcdefghij';
  const auth = { Authorization: `Bearer ${KEY}` };

  beforeAll(async () => {
    svc = await startService({ API_KEYS: KEY, DEV_UPSTREAM_TOKENS_PER_SECOND: '200' });
  });
  afterAll(() => svc?.kill('SIGKILL'));

  const accessLines = () => svc.logs.filter((l) => l.msg === 'request');

  it('keeps a client X-Request-Id, returns it, and logs one access line with route, status, duration and bytes', async () => {
    const res = await fetch(`${svc.url}/v1/chat/stream`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json', 'X-Request-Id': 'client-req-1' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'log me' }], max_tokens: 5 }),
    });
    const streamId = res.headers.get('lastcall-stream-id');
    expect(res.headers.get('x-request-id')).toBe('client-req-1');
    const body = await res.text();
    await svc.waitForLog((l) => l.msg === 'request' && l.requestId === 'client-req-1');
    const line = accessLines().find((l) => l.requestId === 'client-req-1')!;
    expect(line).toMatchObject({
      method: 'POST',
      route: '/v1/chat/stream',
      status: 200,
      streamId,
      bytes: Buffer.byteLength(body),
    });
    expect(line.durationMs).toBeTypeOf('number');
  });

  it('replaces a missing or malformed id with its own, and keeps credentials and client payload out of the logged path', async () => {
    const none = await fetch(`${svc.url}/v1/tasks/task_000000000000000000000000`, { headers: auth });
    const generated = none.headers.get('x-request-id')!;
    expect(generated).toMatch(/^[A-Za-z0-9_-]{16}$/);
    const bad = await fetch(`${svc.url}/v1/streams/AAAAAAAAAAAAAAAAAAAAAA?ticket=secret-ticket&after=3`, {
      headers: { 'X-Request-Id': 'has spaces and ; semicolons' },
    });
    const replaced = bad.headers.get('x-request-id')!;
    expect(replaced).not.toBe('has spaces and ; semicolons');
    await svc.waitForLog((l) => l.msg === 'request' && l.requestId === replaced);
    const line = accessLines().find((l) => l.requestId === replaced)!;
    expect(line).toMatchObject({ route: '/v1/streams/:id', status: 401 });
    expect(line.path).toBe('/v1/streams/AAAAAAAAAAAAAAAAAAAAAA?ticket=[redacted]&after=3');
    expect(JSON.stringify(svc.logs)).not.toContain('secret-ticket');
    const odd = await fetch(`${svc.url}/v1/streams/AA%00payload-in-path?after=1%00payload-in-query`, {
      headers: { ...auth, 'X-Request-Id': 'odd-1' },
    });
    expect(odd.status).toBe(400);
    await svc.waitForLog((l) => l.msg === 'request' && l.requestId === 'odd-1');
    expect(accessLines().find((l) => l.requestId === 'odd-1')!.path).toBe('/v1/streams/[unprintable]?after=[unprintable]');
    expect(JSON.stringify(svc.logs)).not.toContain('payload-in-');
    expect(JSON.stringify(svc.logs)).not.toContain(KEY);
  });

  it('puts the request id (and the stream) on the other lines written while serving it', async () => {
    // A stream whose client left is released; the GET that resumes it takes the generation over.
    const aborted = new AbortController();
    const first = await fetch(`${svc.url}/v1/chat/stream`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'take me over' }], max_tokens: 400 }),
      signal: aborted.signal,
    });
    const id = first.headers.get('lastcall-stream-id')!;
    aborted.abort();
    await svc.waitForLog((l) => l.msg === 'request' && l.streamId === id && l.route === '/v1/chat/stream');
    await new Promise((r) => setTimeout(r, 200));
    const resumed = await fetch(`${svc.url}/v1/streams/${id}`, { headers: { ...auth, 'X-Request-Id': 'resume-1' } });
    await resumed.text();
    const takeover = await svc.waitForLog((l) => l.msg === 'took over a stream generation' && l.stream === id);
    expect(takeover).toMatchObject({ requestId: 'resume-1', streamId: id });
  });
});
