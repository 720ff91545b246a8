import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resumeStream } from '../../src/client/index.js';
import { plan } from '../../src/upstream/text.js';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

/**
 * Controlling a durable stream from any replica: cancel it (DELETE /v1/streams/:id) and start
 * it idempotently (Idempotency-Key), with two replicas on one PostgreSQL.
 */
describe('stream cancel and idempotent starts (two replicas, real PostgreSQL)', () => {
  let pgi: PostgresInstance;
  let a: ServiceProcess;
  let b: ServiceProcess;
  const KEY = 'control-key-0123456789abcdefghij';
  const OTHER = 'other-key-0123456789abcdefghijk';
  const auth = (k = KEY) => ({ Authorization: `Bearer ${k}` });
  const env = (replica: string) => ({
    DATABASE_URL: pgi.url,
    API_KEYS: `${KEY},${OTHER}`,
    REPLICA_ID: replica,
    DEV_UPSTREAM_TOKENS_PER_SECOND: '50',
    TASK_LEASE_SECONDS: '3',
  });
  const post = (svc: ServiceProcess, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${svc.url}/v1/chat/stream`, {
      method: 'POST',
      headers: { ...auth(), 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    pgi = await startPostgres();
    [a, b] = await Promise.all([startService(env('control-a')), startService(env('control-b'))]);
  });
  afterAll(async () => {
    a?.kill('SIGKILL');
    b?.kill('SIGKILL');
    await Promise.all([a?.exited, b?.exited]);
    await pgi?.stop();
  });

  it('a second POST with the same Idempotency-Key joins the first stream instead of starting another', async () => {
    const body = { messages: [{ role: 'user', content: 'only once' }], max_tokens: 40 };
    const first = await post(a, body, { 'Idempotency-Key': 'retry-1' });
    const firstId = first.headers.get('lastcall-stream-id');
    await first.text();
    const tokensBefore = (await a.metric('lastcall_stream_tokens_total')) + (await b.metric('lastcall_stream_tokens_total'));
    const retried = await post(b, body, { 'Idempotency-Key': 'retry-1' });
    expect(retried.status).toBe(200);
    expect(retried.headers.get('lastcall-stream-id')).toBe(firstId);
    const replay = await retried.text();
    expect(replay).toContain('event: done');
    expect(replay.match(/event: token/g)).toHaveLength(40);
    const tokensAfter = (await a.metric('lastcall_stream_tokens_total')) + (await b.metric('lastcall_stream_tokens_total'));
    expect(tokensAfter).toBe(tokensBefore);

    const different = await post(b, { ...body, max_tokens: 41 }, { 'Idempotency-Key': 'retry-1' });
    expect(different.status).toBe(409);
    expect(((await different.json()) as { error: { code: string } }).error.code).toBe('idempotency_key_reused');
    // Scoped to the key that sent it: another key may use the same string.
    const otherKey = await fetch(`${b.url}/v1/chat/stream`, {
      method: 'POST',
      headers: { ...auth(OTHER), 'Content-Type': 'application/json', 'Idempotency-Key': 'retry-1' },
      body: JSON.stringify(body),
    });
    expect(otherKey.status).toBe(200);
    expect(otherKey.headers.get('lastcall-stream-id')).not.toBe(firstId);
    await otherKey.text();
  });

  it('DELETE /v1/streams/:id: cancels on any replica, keeps the partial answer, 409 once finished, 404 for another key', async () => {
    const body = { messages: [{ role: 'user', content: 'stop me halfway' }], max_tokens: 2000 };
    const res = await post(a, body);
    const id = res.headers.get('lastcall-stream-id')!;
    const reader = res.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    const decoder = new TextDecoder();
    let seen = '';
    while (!/id: 20\n/.test(seen)) seen += decoder.decode((await reader.read()).value);
    expect((await fetch(`${b.url}/v1/streams/${id}`, { method: 'DELETE', headers: auth(OTHER) })).status).toBe(404);
    const cancelled = await fetch(`${b.url}/v1/streams/${id}`, { method: 'DELETE', headers: auth() });
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toMatchObject({ id, status: 'cancelled' });
    // The client on A sees its stream end (the holder learns of the cancel at its next write).
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += decoder.decode(value);
    }
    expect(seen).toMatch(/event: (done|end)/);
    const resumed = await resumeStream(b.url, id, 0, { apiKey: KEY });
    expect(resumed.finishReason).toBe('cancelled');
    const reference = plan(body.messages, body.max_tokens).tokens.join('');
    expect(resumed.text.length).toBeGreaterThan(0);
    expect(reference.startsWith(resumed.text)).toBe(true);
    // The generation stopped: no more tokens are produced for it.
    const tokens = await a.metric('lastcall_stream_tokens_total');
    await new Promise((r) => setTimeout(r, 500));
    expect(await a.metric('lastcall_stream_tokens_total')).toBe(tokens);
    const again = await fetch(`${a.url}/v1/streams/${id}`, { method: 'DELETE', headers: auth() });
    expect(again.status).toBe(409);
  });
});
