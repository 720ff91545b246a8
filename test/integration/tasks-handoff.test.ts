import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

/**
 * Two real replicas on one real PostgreSQL: tasks running on A survive A's SIGTERM (released at
 * once, resumed by B) and A's SIGKILL (resumed by B after the lease expires), with every step
 * recorded once and results identical to an undisturbed run.
 */
const PROMPTS = Array.from({ length: 20 }, (_, i) => `task ${i}: explain how a pod hands its work to another replica`);
const LEASE_SECONDS = 3;
const GRACE_SECONDS = 10;
const BUDGET_MS = (GRACE_SECONDS - 2) * 1000; // default safety margin 2 s

interface StepRow {
  task_id: string;
  idx: number;
  kind: string;
  output: unknown;
  replica: string;
}
type Outcome = { steps: { kind: string; output: unknown }[]; result: unknown };

let pgi: PostgresInstance;
let db: pg.Pool;
const running: ServiceProcess[] = [];
let undisturbed: Map<string, Outcome>;

async function replica(id: string, env: Record<string, string> = {}) {
  const s = await startService({
    DATABASE_URL: pgi.url,
    REPLICA_ID: id,
    TASK_LEASE_SECONDS: String(LEASE_SECONDS),
    TERMINATION_GRACE_PERIOD_SECONDS: String(GRACE_SECONDS),
    TASK_WORKER_CONCURRENCY: '20',
    DEV_UPSTREAM_TOKENS_PER_SECOND: '10',
    ...env,
  });
  running.push(s);
  return s;
}

async function submit(svc: ServiceProcess): Promise<string[]> {
  const ids: string[] = [];
  for (const prompt of PROMPTS) {
    const r = await fetch(`${svc.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt }),
    });
    expect(r.status).toBe(202);
    ids.push(((await r.json()) as { id: string }).id);
  }
  return ids;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const statuses = async (ids: string[]) =>
  (
    await db.query<{ status: string; lease_holder: string | null; n: number }>(
      `SELECT status, lease_holder, (SELECT count(*)::int FROM task_steps s WHERE s.task_id = t.id) AS n FROM tasks t WHERE id = ANY($1)`,
      [ids],
    )
  ).rows;

/** Each task's steps and result, keyed by prompt, after checking each index is recorded once. */
async function outcomes(ids: string[]): Promise<Map<string, Outcome & { replicas: Set<string> }>> {
  const counts = await db.query<{ task_id: string; n: number; distinct_idx: number; lo: number; hi: number }>(
    `SELECT task_id, count(*)::int AS n, count(DISTINCT idx)::int AS distinct_idx, min(idx) AS lo, max(idx) AS hi
     FROM task_steps WHERE task_id = ANY($1) GROUP BY task_id`,
    [ids],
  );
  expect(counts.rows).toHaveLength(ids.length);
  for (const c of counts.rows) {
    expect(c.n).toBe(c.distinct_idx);
    expect(c.lo).toBe(0);
    expect(c.hi).toBe(c.n - 1);
  }
  const tasks = await db.query<{ id: string; prompt: string; status: string; result: unknown }>(
    'SELECT id, prompt, status, result FROM tasks WHERE id = ANY($1)',
    [ids],
  );
  const steps = await db.query<StepRow>(
    'SELECT task_id, idx, kind, output, replica FROM task_steps WHERE task_id = ANY($1) ORDER BY task_id, idx',
    [ids],
  );
  const byPrompt = new Map<string, Outcome & { replicas: Set<string> }>();
  for (const t of tasks.rows) {
    expect(t.status).toBe('completed');
    const own = steps.rows.filter((s) => s.task_id === t.id);
    byPrompt.set(t.prompt, {
      steps: own.map((s) => ({ kind: s.kind, output: s.output })),
      result: t.result,
      replicas: new Set(own.map((s) => s.replica)),
    });
  }
  return byPrompt;
}

function expectSameAsUndisturbed(got: Map<string, Outcome>) {
  expect(got.size).toBe(PROMPTS.length);
  for (const prompt of PROMPTS) {
    const g = got.get(prompt)!;
    const u = undisturbed.get(prompt)!;
    expect(g.steps).toEqual(u.steps);
    expect(g.result).toEqual(u.result);
  }
}

function parseEvents(text: string) {
  return text
    .split('\n\n')
    .filter((block) => block.includes('event:'))
    .map((block) => {
      const field = (name: string) =>
        block
          .split('\n')
          .find((l) => l.startsWith(`${name}: `))
          ?.slice(name.length + 2);
      return { event: field('event'), id: field('id'), data: JSON.parse(field('data') ?? 'null') as Record<string, unknown> };
    });
}

async function metric(svc: ServiceProcess, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${svc.adminUrl}/metrics`)).text();
  const m = pattern.exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * Submits the prompts to A, starts B once A holds every lease, and returns when every task has
 * a step committed by A and none has finished: the signal that follows lands mid-run, mid-step.
 * A's upstream is slow (10 tokens/s: 3.2–4.8 s per LLM step) so that window is wide.
 */
async function midRunOnA(a: ServiceProcess): Promise<{ ids: string[]; b: ServiceProcess }> {
  const ids = await submit(a);
  await until('A to hold every task', async () =>
    (await statuses(ids)).every((r) => r.lease_holder === 'replica-a') ? true : undefined,
  );
  const b = await replica('replica-b');
  await until('a step of every task committed by A', async () =>
    (await statuses(ids)).every((r) => r.n >= 1) ? true : undefined,
  );
  const rows = await statuses(ids);
  expect(rows.filter((r) => r.status === 'running' && r.lease_holder === 'replica-a')).toHaveLength(PROMPTS.length);
  return { ids, b };
}

beforeAll(async () => {
  pgi = await startPostgres();
  db = new pg.Pool({ connectionString: pgi.url, max: 2 });
  // The reference: the same prompts run undisturbed on one replica (faster: timing never
  // changes the deterministic upstream's text).
  const solo = await replica('replica-solo', { DEV_UPSTREAM_TOKENS_PER_SECOND: '400' });
  const ids = await submit(solo);
  await until('the undisturbed run', async () =>
    (await statuses(ids)).every((r) => r.status === 'completed') ? true : undefined,
  );
  undisturbed = await outcomes(ids);
  solo.kill('SIGTERM');
  expect((await solo.exited).code).toBe(0);
}, 180_000);

afterEach(() => {
  for (const s of running.splice(0)) s.kill('SIGKILL');
});

afterAll(async () => {
  await db?.end();
  await pgi?.stop();
}, 60_000);

describe('a replica replaced while it runs tasks', () => {
  it('SIGTERM: A finishes its current steps, releases every lease, B resumes them at once; A exits 0 within budget', async () => {
    const a = await replica('replica-a');
    const { ids, b } = await midRunOnA(a);

    // A client following the longest task's events on A: B is still running it when A reaches
    // handoff (A's drain waits for this open stream), so the client gets a resumable `end`.
    const longest = PROMPTS.reduce((x, p) => (undisturbed.get(p)!.steps.length > undisturbed.get(x)!.steps.length ? p : x));
    const watched = ids[PROMPTS.indexOf(longest)]!;
    const onA = fetch(`${a.url}/v1/tasks/${watched}/events`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 300));

    const t0 = performance.now();
    a.kill('SIGTERM');
    const exit = await a.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - t0).toBeLessThan(BUDGET_MS);
    const report = a.logs.find((l) => l.msg === 'drain report')?.report as {
      withinBudget: boolean;
      phases: { name: string; participants: { name: string; outcome: string; detail?: Record<string, number> }[] }[];
    };
    expect(report.withinBudget).toBe(true);
    const drained = report.phases.find((p) => p.name === 'drain')!.participants.find((p) => p.name === 'tasks:drain')!;
    expect(drained.outcome).toBe('ok');
    expect(drained.detail!.handedOff).toBe(PROMPTS.length); // each finished its current step, then let go

    await until('B to complete every task', async () =>
      (await statuses(ids)).every((r) => r.status === 'completed') ? true : undefined,
    );
    const got = await outcomes(ids);
    expectSameAsUndisturbed(got);
    // Every task was begun by A and completed by B.
    for (const o of got.values()) expect([...o.replicas].sort()).toEqual(['replica-a', 'replica-b']);
    expect(await metric(b, /lastcall_tasks_recovered_total\{via="handoff"[^}]*\} (\d+)/)).toBe(PROMPTS.length);

    const first = parseEvents(await onA);
    const end = first.at(-1)!;
    expect(end.event, JSON.stringify(first.map((e) => e.event))).toBe('end');
    expect(end.data).toMatchObject({ reason: 'server_shutdown', resumable: true, task_id: watched });
    const last = end.data.last_event_id as number;
    expect(last).toBe(Number(first.filter((e) => e.event === 'step').at(-1)!.id));
    const rest = parseEvents(
      await (await fetch(`${b.url}/v1/tasks/${watched}/events`, { headers: { 'Last-Event-ID': String(last) } })).text(),
    );
    const seen = [...first, ...rest].filter((e) => e.event === 'step').map((e) => Number(e.id));
    expect(seen).toEqual(undisturbed.get(longest)!.steps.map((_, i) => i)); // gap-free, no repeats
    expect(rest.at(-1)).toMatchObject({ event: 'done', data: { status: 'completed' } });

    b.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 120_000);

  it('SIGKILL: A vanishes mid-step, its leases expire, B resumes every task from the last checkpoint', async () => {
    const a = await replica('replica-a');
    const { ids, b } = await midRunOnA(a);

    a.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    await until('B to complete every task', async () =>
      (await statuses(ids)).every((r) => r.status === 'completed') ? true : undefined,
    );
    const got = await outcomes(ids);
    expectSameAsUndisturbed(got);
    for (const o of got.values()) expect([...o.replicas].sort()).toEqual(['replica-a', 'replica-b']);
    expect(await metric(b, /lastcall_tasks_recovered_total\{via="expiry"[^}]*\} (\d+)/)).toBe(PROMPTS.length);

    b.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 120_000);
});
