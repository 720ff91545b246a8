import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followLags } from '../../testkit/follow-lag.js';
import { startPostgres, transactionRate, type PostgresInstance } from '../../testkit/postgres.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

const KEY = 'n'.repeat(32);
const auth = { Authorization: `Bearer ${KEY}` };

async function gauge(svc: ServiceProcess, name: string): Promise<number> {
  const text = await (await fetch(`${svc.adminUrl}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/** Milliseconds from POST /v1/tasks to its first step event: a claim woken by a notification, not a poll. */
async function firstStepAfter(svc: ServiceProcess): Promise<number> {
  const t0 = performance.now();
  const created = await fetch(`${svc.url}/v1/tasks`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: 'wake up', max_steps: 2 }),
  });
  expect(created.status).toBe(202);
  const { id } = (await created.json()) as { id: string };
  const events = await fetch(`${svc.url}/v1/tasks/${id}/events`, { headers: auth });
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of events.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
    if (text.includes('event: step')) break;
  }
  const ms = performance.now() - t0;
  await events.body?.cancel().catch(() => undefined);
  return ms;
}

async function until(pred: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred()) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
}

/**
 * Push, not poll: the safety nets are 1 s (followers), 2 s (task events) and 5 min (claims), so
 * every figure below would miss its bound by far if a notification did not wake the waiter.
 */
describe('PostgreSQL notifications wake followers, task workers and event streams (two replicas)', () => {
  let pgi: PostgresInstance;
  let a: ServiceProcess;
  let b: ServiceProcess;
  let admin: pg.Client;
  const env = (replica: string) => ({
    DATABASE_URL: pgi.url,
    API_KEYS: KEY,
    REPLICA_ID: replica,
    DEV_UPSTREAM_TOKENS_PER_SECOND: '40',
    TASK_LEASE_SECONDS: '3',
  });

  beforeAll(async () => {
    pgi = await startPostgres();
    a = await startService(env('replica-a'));
    b = await startService(env('replica-b'));
    admin = new pg.Client({ connectionString: pgi.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end().catch(() => undefined);
    a?.kill('SIGKILL');
    b?.kill('SIGKILL');
    await Promise.all([a?.exited, b?.exited]);
    await pgi?.stop();
  });

  it('a follower on another replica gets each batch within milliseconds of its commit', async () => {
    const { lags, text } = await followLags({
      pgUrl: pgi.url,
      generatorUrl: a.url,
      followerUrl: b.url,
      headers: auth,
      content: 'follow me from afar',
      maxTokens: 160,
    });
    expect(text).toContain('event: done');
    const sorted = [...lags].sort((x, y) => x - y);
    expect(sorted.length).toBeGreaterThan(10);
    // Polling at the 1 s safety net would put the median near 500 ms.
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(100);
  });

  it('a queued task is claimed at once, and its event stream sees the step at once', async () => {
    expect(await firstStepAfter(a)).toBeLessThan(2_000);
    expect(await firstStepAfter(b)).toBeLessThan(2_000);
  });

  it('an idle replica costs the database at most 0.2 transactions per second', async () => {
    // Two idle replicas, once their first retention sweep (then one per 5 min) is done; our own
    // reads count two. Idle backends report their counts up to 10 s late: wait for those.
    for (const svc of [a, b])
      await until(async () => (await gauge(svc, 'lastcall_retention_last_sweep_timestamp_seconds')) > 0, 20_000);
    await new Promise((r) => setTimeout(r, 11_000));
    const perReplica = (await transactionRate(admin, 30)) / 2;
    expect(perReplica).toBeLessThanOrEqual(0.2);
  }, 120_000);

  it('the listening connection comes back after the database drops it, and pushes again', async () => {
    const { rowCount } = await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ~ '^(UN)?LISTEN' AND pid <> pg_backend_pid()`,
    );
    expect(rowCount).toBe(2);
    await a.waitForLog((l) => l.msg === 'database notifications lost; waiters poll until they are back');
    await until(async () => (await gauge(a, 'lastcall_database_listening')) === 1);
    expect(await gauge(a, 'lastcall_database_listening')).toBe(1);
    expect(await firstStepAfter(a)).toBeLessThan(2_000);
  });
});

describe('embedded PGlite notifies in-process', () => {
  let svc: ServiceProcess;
  beforeAll(async () => {
    svc = await startService({ API_KEYS: KEY });
  });
  afterAll(async () => {
    svc?.kill('SIGKILL');
    await svc?.exited;
  });

  it('claims a queued task at once', async () => {
    expect(await gauge(svc, 'lastcall_database_listening')).toBe(1);
    expect(await firstStepAfter(svc)).toBeLessThan(2_000);
  });

  it('listens on row channels (mixed-case ids, quoted) and stops listening, without losing the connection', async () => {
    // Each event stream LISTENs on its task's channel and UNLISTENs when it ends.
    for (let i = 0; i < 3; i++) expect(await firstStepAfter(svc)).toBeLessThan(2_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(svc.logs.filter((l) => String(l.msg).startsWith('database notifications lost'))).toEqual([]);
    expect(await gauge(svc, 'lastcall_database_listening')).toBe(1);
  });
});
