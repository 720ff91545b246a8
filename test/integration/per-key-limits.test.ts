import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

/**
 * One key cannot take a replica (or the cluster) for itself: quotas on what a key has running,
 * a rate limit on what it starts, and tasks claimed fairly across keys.
 */
describe('per-key limits and fairness (real PostgreSQL)', () => {
  let pgi: PostgresInstance;
  let svc: ServiceProcess;
  const A = 'alice:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
  const B = 'bob:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
  const bearer = (k: string) => ({ Authorization: `Bearer ${k.split(':')[1]}`, 'Content-Type': 'application/json' });
  const post = async (key: string, path: string, body: unknown) => {
    const res = await fetch(`${svc.url}${path}`, { method: 'POST', headers: bearer(key), body: JSON.stringify(body) });
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      body: (await res.json().catch(() => ({}))) as Record<string, any>,
    };
  };
  const task = async (key: string, id: string) =>
    (await (await fetch(`${svc.url}/v1/tasks/${id}`, { headers: bearer(key) })).json()) as { status: string };

  beforeAll(async () => {
    pgi = await startPostgres();
    svc = await startService({
      DATABASE_URL: pgi.url,
      API_KEYS: `${A},${B}`,
      KEY_MAX_ACTIVE_TASKS: '12',
      KEY_MAX_STREAMS: '2',
      KEY_RATE_PER_SECOND: '2',
      KEY_RATE_BURST: '20',
      TASK_WORKER_CONCURRENCY: '2',
      DEV_UPSTREAM_TOKENS_PER_SECOND: '60',
    });
  });
  afterAll(async () => {
    svc?.kill('SIGKILL');
    await svc?.exited;
    await pgi?.stop();
  });

  it("one key's backlog does not starve another: tasks are claimed fairly across keys, within a per-key quota", async () => {
    const a = await Promise.all(
      Array.from({ length: 13 }, (_, i) => post(A, '/v1/tasks', { prompt: `backlog ${i}`, max_steps: 6 })),
    );
    expect(a.filter((r) => r.status === 202)).toHaveLength(12);
    const refused = a.find((r) => r.status === 429)!;
    expect(refused).toMatchObject({
      retryAfter: '5',
      body: { error: { code: 'too_many_requests', message: 'this key has 12 queued or running tasks; at most 12 per key' } },
    });
    const b = await post(B, '/v1/tasks', { prompt: 'waits in line', max_steps: 2 });
    expect(b.status).toBe(202);
    // First in, first out across keys would run all twelve of A's first (two at a time, seconds each).
    for (let i = 0; i < 300 && (await task(B, b.body.id as string)).status !== 'completed'; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect((await task(B, b.body.id as string)).status).toBe('completed');
    const aStatuses = await Promise.all(a.filter((r) => r.status === 202).map((r) => task(A, r.body.id as string)));
    expect(aStatuses.filter((t) => t.status === 'queued').length).toBeGreaterThanOrEqual(6);
  });

  it('a key may have so many streams generating at once, across replicas', async () => {
    const controllers = [1, 2].map(() => new AbortController());
    const open = await Promise.all(
      controllers.map((c) =>
        fetch(`${svc.url}/v1/chat/stream`, {
          method: 'POST',
          headers: bearer(B),
          body: JSON.stringify({ messages: [{ role: 'user', content: 'long' }], max_tokens: 2000 }),
          signal: c.signal,
        }),
      ),
    );
    expect(open.map((r) => r.status)).toEqual([200, 200]);
    const third = await post(B, '/v1/chat/stream', { messages: [{ role: 'user', content: 'one more' }], max_tokens: 5 });
    expect(third).toMatchObject({
      status: 429,
      retryAfter: '1',
      body: { error: { message: 'this key has 2 streams generating; at most 2 per key' } },
    });
    for (const c of controllers) c.abort();
  });

  it('requests that start work are rate limited per key, with Retry-After; another key is unaffected', async () => {
    const burst = await Promise.all(Array.from({ length: 30 }, () => post(A, '/v1/search', { query: 'x', k: 0 })));
    const limited = burst.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]).toMatchObject({ retryAfter: '1', body: { error: { code: 'too_many_requests' } } });
    expect((await post(B, '/v1/search', { query: 'x', k: 0 })).status).toBe(400);
    expect(await svc.metric('lastcall_http_rejected_total{reason="rate_limited"')).toBe(limited.length);
  });
});
