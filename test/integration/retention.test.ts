import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamChat } from '../../src/client/index.js';
import { plan } from '../../src/upstream/text.js';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

/**
 * Retention on a real replica and PostgreSQL, with a retention of 2 seconds: finished streams and
 * tasks are deleted with everything that hangs off them, their owner then gets 410 (anyone else
 * 404), what is still generating is left alone, and the tombstones themselves go one period later.
 */
const ALICE = 'alice-key-0123456789abcdefghij';
const BOB = 'bob-key-0123456789abcdefghijkl';
const RETENTION_S = 2;

let pgi: PostgresInstance;
let svc: ServiceProcess;
let db: pg.Client;
beforeAll(async () => {
  pgi = await startPostgres();
  svc = await startService({
    DATABASE_URL: pgi.url,
    API_KEYS: `alice:${ALICE},bob:${BOB}`,
    RETENTION_HOURS: String(RETENTION_S / 3600),
    DEV_UPSTREAM_TOKENS_PER_SECOND: '100',
  });
  db = new pg.Client({ connectionString: pgi.url });
  await db.connect();
});
afterAll(async () => {
  svc?.kill('SIGKILL');
  await db?.end();
  await pgi?.stop();
});

const get = (path: string, key: string) => fetch(`${svc.url}${path}`, { headers: { Authorization: `Bearer ${key}` } });
const count = async (sql: string, id: string) => (await db.query<{ n: number }>(sql, [id])).rows[0]!.n;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('retention (RETENTION_HOURS = 2 s)', () => {
  it('deletes a finished stream and task with their logs and steps; the owner gets 410, another key 404; tombstones go a period later', async () => {
    const stream = await streamChat(
      svc.url,
      { messages: [{ role: 'user', content: 'retention' }], max_tokens: 8 },
      { apiKey: ALICE },
    );
    expect(stream.finishReason).toBe('length');
    const created = (await (
      await fetch(`${svc.url}/v1/tasks`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${ALICE}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ prompt: 'retention task', max_steps: 3 }),
      })
    ).json()) as { id: string };
    await until('the task to finish', async () => {
      const t = (await (await get(`/v1/tasks/${created.id}`, ALICE)).json()) as { status: string };
      return t.status === 'completed' ? t : undefined;
    });
    expect(await count('SELECT count(*)::int AS n FROM stream_chunks WHERE stream_id = $1', stream.streamId)).toBe(8);
    expect(await count('SELECT count(*)::int AS n FROM task_steps WHERE task_id = $1', created.id)).toBeGreaterThan(0);

    await until('the stream and the task to be swept', async () =>
      (await count('SELECT count(*)::int AS n FROM streams WHERE id = $1', stream.streamId)) === 0 &&
      (await count('SELECT count(*)::int AS n FROM tasks WHERE id = $1', created.id)) === 0
        ? true
        : undefined,
    );
    expect(await count('SELECT count(*)::int AS n FROM stream_chunks WHERE stream_id = $1', stream.streamId)).toBe(0);
    expect(await count('SELECT count(*)::int AS n FROM task_steps WHERE task_id = $1', created.id)).toBe(0);

    const resumed = await get(`/v1/streams/${stream.streamId}`, ALICE);
    expect(resumed.status).toBe(410);
    const body = (await resumed.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('gone');
    expect(body.error.message).toMatch(/has expired/);
    expect((await get(`/v1/tasks/${created.id}`, ALICE)).status).toBe(410);
    expect((await get(`/v1/tasks/${created.id}/events`, ALICE)).status).toBe(410);
    // To another key it looks like any id that never existed.
    expect((await get(`/v1/streams/${stream.streamId}`, BOB)).status).toBe(404);
    expect((await get(`/v1/tasks/${created.id}`, BOB)).status).toBe(404);

    expect(await svc.metric('lastcall_retention_deleted_total{kind="streams"')).toBeGreaterThanOrEqual(1);
    expect(await svc.metric('lastcall_retention_deleted_total{kind="tasks"')).toBeGreaterThanOrEqual(1);

    await until('the tombstones to go', async () =>
      (await count(`SELECT count(*)::int AS n FROM expired WHERE id = $1`, stream.streamId)) === 0 ? true : undefined,
    );
    expect((await get(`/v1/streams/${stream.streamId}`, ALICE)).status).toBe(404);
  });

  it('leaves a stream that is still generating alone, however long it runs', async () => {
    const body = { messages: [{ role: 'user', content: 'a long one, past the retention period' }], max_tokens: 500 };
    const result = await streamChat(svc.url, body, { apiKey: ALICE }); // 5 s at 100 tokens/s: two and a half periods
    expect(result.text).toBe(plan(body.messages, 500).tokens.join(''));
    expect(await count('SELECT count(*)::int AS n FROM stream_chunks WHERE stream_id = $1', result.streamId)).toBe(500);
  });
});
