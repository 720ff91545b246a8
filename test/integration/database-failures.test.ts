import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamChat } from '../../src/client/index.js';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

/**
 * A database that hangs or goes away: requests get `503 storage_unavailable` with Retry-After
 * within the statement timeout (never a hang, never a bare 500), the pool's queue stays bounded,
 * and everything answers again once the database is back.
 */
describe('database failures (real PostgreSQL, frozen and stopped)', () => {
  let pgi: PostgresInstance;
  let svc: ServiceProcess;
  let taskId: string;
  let streamId: string;

  const get = async (path: string) => {
    const t0 = performance.now();
    const res = await fetch(`${svc.url}${path}`, { signal: AbortSignal.timeout(20_000) });
    const body = (await res.json().catch(() => null)) as { error?: { code: string } } | null;
    return {
      status: res.status,
      code: body?.error?.code,
      retryAfter: res.headers.get('retry-after'),
      ms: performance.now() - t0,
    };
  };

  beforeAll(async () => {
    pgi = await startPostgres();
    svc = await startService({
      DATABASE_URL: pgi.url,
      DATABASE_STATEMENT_TIMEOUT_SECONDS: '1',
      DATABASE_CONNECT_TIMEOUT_SECONDS: '1',
      DATABASE_POOL_SIZE: '2',
      DEV_UPSTREAM_TOKENS_PER_SECOND: '500',
    });
    const created = await fetch(`${svc.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"prompt":"db"}',
    });
    taskId = ((await created.json()) as { id: string }).id;
    streamId = (await streamChat(svc.url, { messages: [{ role: 'user', content: 'db' }], max_tokens: 5 })).streamId;
  });
  afterAll(async () => {
    pgi?.resume();
    svc?.kill('SIGKILL');
    await svc?.exited;
    await pgi?.stop();
  });

  it('a frozen database: 503 storage_unavailable + Retry-After for every request, bounded in time, then 200 again', async () => {
    pgi.pause();
    let results;
    try {
      // More requests than the pool has connections: the rest wait in its queue, boundedly.
      results = await Promise.all([
        ...Array.from({ length: 6 }, () => get(`/v1/tasks/${taskId}`)),
        get(`/v1/streams/${streamId}`),
      ]);
    } finally {
      pgi.resume();
    }
    for (const r of results) {
      expect(r).toMatchObject({ status: 503, code: 'storage_unavailable', retryAfter: '1' });
      // statement timeout 1 s + 2 s for a server that cannot answer, plus the wait for a connection.
      expect(r.ms).toBeLessThan(6_000);
    }
    expect((await get(`/v1/tasks/${taskId}`)).status).toBe(200);
    const metrics = await (await fetch(`${svc.adminUrl}/metrics`)).text();
    expect(Number(/lastcall_database_errors_total\{kind="timeout"[^}]*\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
  });

  it('a stopped database: 503 storage_unavailable at once, including a resume that must read the log', async () => {
    const restarting = pgi.restart({ downMs: 3_000 });
    await new Promise((r) => setTimeout(r, 1_000));
    const [task, stream] = await Promise.all([get(`/v1/tasks/${taskId}`), get(`/v1/streams/${streamId}`)]);
    await restarting;
    expect(task).toMatchObject({ status: 503, code: 'storage_unavailable', retryAfter: '1' });
    expect(stream).toMatchObject({ status: 503, code: 'storage_unavailable', retryAfter: '1' });
    expect((await get(`/v1/tasks/${taskId}`)).status).toBe(200);
  });
});
