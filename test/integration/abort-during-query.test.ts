import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamChat } from '../../src/client/index.js';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

/**
 * A client that goes away while its handler awaits the database must not keep a slot. The
 * database is made slow for real: another session holds an ACCESS EXCLUSIVE lock on the table the
 * handler queries, so the query waits until the test commits, long after the client left.
 */
describe('a client that disconnects during a slow query leaves nothing behind (real PostgreSQL)', () => {
  let pgi: PostgresInstance;
  let svc: ServiceProcess;
  let locker: pg.Client;
  const KEY = 'k'.repeat(32);
  const auth = { Authorization: `Bearer ${KEY}` };

  const gauges = async () => {
    const text = await (await fetch(`${svc.adminUrl}/metrics`)).text();
    const read = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return {
      streamClients: read('lastcall_stream_clients'),
      taskEventStreams: read('lastcall_task_event_streams'),
      streamsActive: read('lastcall_streams_active'),
      inFlight: read('lastcall_http_requests_in_flight'),
      tokens: read('lastcall_stream_tokens_total'),
    };
  };

  /** Holds `table` locked while `requests` start and are aborted, then lets the queries through. */
  async function abortWhileLocked(
    table: 'streams' | 'tasks',
    requests: (signal: AbortSignal) => Promise<unknown>[],
  ): Promise<void> {
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    const abort = new AbortController();
    const settled = Promise.allSettled(requests(abort.signal));
    try {
      // Every request is waiting on the lock now (visible as lock waits in pg_stat_activity).
      await until(async () => {
        const { rows } = await pgi_query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`);
        return rows[0]!.n >= 1;
      });
      await new Promise((r) => setTimeout(r, 200));
      abort.abort();
      await settled;
      // Let the server see the closed sockets before the queries return.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await locker.query('COMMIT');
    }
  }

  let admin: pg.Client;
  const pgi_query = (sql: string) => admin.query<{ n: number }>(sql);

  beforeAll(async () => {
    pgi = await startPostgres();
    svc = await startService({
      DATABASE_URL: pgi.url,
      API_KEYS: KEY,
      MAX_CONCURRENT_STREAMS: '2',
      // Slow enough that a task outlives the checks below, and a leaked generation shows in the token count.
      DEV_UPSTREAM_TOKENS_PER_SECOND: '10',
    });
    locker = new pg.Client({ connectionString: pgi.url });
    admin = new pg.Client({ connectionString: pgi.url });
    await Promise.all([locker.connect(), admin.connect()]);
  });
  afterAll(async () => {
    await Promise.allSettled([locker?.end(), admin?.end()]);
    svc?.kill('SIGKILL');
    await svc?.exited;
    await pgi?.stop();
  });

  it('POST /v1/chat/stream: no generation runs for nobody and no client slot stays taken', async () => {
    const before = await gauges();
    await abortWhileLocked('streams', (signal) =>
      [1, 2, 3].map(() =>
        fetch(`${svc.url}/v1/chat/stream`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': 'application/json' },
          body: JSON.stringify({ messages: [{ role: 'user', content: 'nobody listens' }], max_tokens: 400 }),
          signal,
        }),
      ),
    );
    // The handlers resume only after the lock is gone, and may start their streams after a first
    // quiet look: the gauges must stay at zero for a while (a leaked generation runs for 40 s).
    await until(
      async () => {
        const g = await gauges();
        return g.streamClients === 0 && g.streamsActive === 0;
      },
      { steadyMs: 1_000 },
    );
    const after = await gauges();
    expect(after).toMatchObject({ streamClients: 0, streamsActive: 0 });
    // Generating 400 tokens for nobody would show here; a released stream generates none.
    expect(after.tokens - before.tokens).toBeLessThan(50);
    const r = await streamChat(svc.url, { messages: [{ role: 'user', content: 'still room' }], max_tokens: 5 }, { apiKey: KEY });
    expect(r.finishReason).toBe('length');
  });

  it('GET /v1/streams/:id: aborted readers release their slots, so the next reader is not refused', async () => {
    const done = await streamChat(svc.url, { messages: [{ role: 'user', content: 'finished' }], max_tokens: 5 }, { apiKey: KEY });
    // The cap on stream clients is 2 × MAX_CONCURRENT_STREAMS = 4: five leaked readers would fill it.
    await abortWhileLocked('streams', (signal) =>
      [1, 2, 3, 4, 5].map(() => fetch(`${svc.url}/v1/streams/${done.streamId}`, { headers: auth, signal })),
    );
    await until(async () => (await gauges()).streamClients === 0, { steadyMs: 1_000 });
    expect((await gauges()).streamClients).toBe(0);
    const again = await fetch(`${svc.url}/v1/streams/${done.streamId}`, { headers: auth });
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('event: done');
  });

  it('GET /v1/tasks/:id/events: aborted event streams stop polling and free their slots', async () => {
    const created = await fetch(`${svc.url}/v1/tasks`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ prompt: 'watch me', max_steps: 20 }),
    });
    const { id } = (await created.json()) as { id: string };
    await abortWhileLocked('tasks', (signal) =>
      [1, 2, 3].map(() => fetch(`${svc.url}/v1/tasks/${id}/events`, { headers: auth, signal })),
    );
    await until(async () => (await gauges()).taskEventStreams === 0, { steadyMs: 1_000 });
    expect((await gauges()).taskEventStreams).toBe(0);
    const events = await fetch(`${svc.url}/v1/tasks/${id}/events`, { headers: auth });
    expect(events.status).toBe(200);
    await events.body?.cancel();
    await until(async () => (await gauges()).taskEventStreams === 0);
    expect((await gauges()).taskEventStreams).toBe(0);
  });
});

/** Waits until `pred` holds (for `steadyMs` on end), or gives up after `timeoutMs` and lets the assertions speak. */
async function until(pred: () => Promise<boolean>, o: { timeoutMs?: number; steadyMs?: number } = {}): Promise<void> {
  const end = Date.now() + (o.timeoutMs ?? 5_000);
  let heldSince: number | undefined;
  while (Date.now() <= end) {
    if (await pred()) {
      heldSince ??= Date.now();
      if (Date.now() - heldSince >= (o.steadyMs ?? 0)) return;
    } else heldSince = undefined;
    await new Promise((r) => setTimeout(r, 50));
  }
}
