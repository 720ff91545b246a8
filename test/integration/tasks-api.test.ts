import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type ServiceProcess } from '../../testkit/service.js';

/** The task API on one real replica (embedded PGlite, the built-in deterministic upstream). */
interface TaskView {
  id: string;
  status: string;
  steps: { index: number; kind: string; output: Record<string, unknown> }[];
  result: { text: string } | null;
  error?: string;
  attempts: number;
}

const running: ServiceProcess[] = [];
afterAll(() => {
  for (const s of running.splice(0)) s.kill('SIGKILL');
});

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as Record<string, any> };
}

async function waitForTask(base: string, id: string, until: (t: TaskView) => boolean, timeoutMs = 30_000): Promise<TaskView> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const t = (await call(base, 'GET', `/v1/tasks/${id}`)).body as TaskView;
    if (until(t)) return t;
    if (Date.now() > end) throw new Error(`task ${id} stuck: ${JSON.stringify(t).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Reads an SSE response to its end and returns the events. */
async function readEvents(url: string, headers: Record<string, string> = {}) {
  const r = await fetch(url, { headers });
  expect(r.headers.get('content-type')).toContain('text/event-stream');
  const text = await r.text();
  return text
    .split('\n\n')
    .filter((block) => block.includes('event:'))
    .map((block) => {
      const field = (name: string) =>
        block
          .split('\n')
          .find((l) => l.startsWith(`${name}: `))
          ?.slice(name.length + 2);
      return { event: field('event'), id: field('id'), data: JSON.parse(field('data') ?? 'null') as Record<string, any> };
    });
}

describe('tasks API on one replica', () => {
  let svc: ServiceProcess;
  let base: string;
  beforeAll(async () => {
    svc = await startService({ DEV_UPSTREAM_TOKENS_PER_SECOND: '200' });
    running.push(svc);
    base = svc.url;
  });

  it('refuses bad task bodies with 400 naming the problem', async () => {
    const bad: unknown[] = [
      {},
      { prompt: '' },
      { prompt: 'x'.repeat(8001) },
      { prompt: 'ok', max_steps: 1 },
      { prompt: 'ok', max_steps: 21 },
      { prompt: 'ok', max_steps: 2.5 },
      { prompt: 42 },
      '[1,2]',
    ];
    for (const body of bad) {
      const r = await call(base, 'POST', '/v1/tasks', body);
      expect(r.status, JSON.stringify(body).slice(0, 40)).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
    }
    expect((await call(base, 'POST', '/v1/tasks', '{"prompt":')).body.error.code).toBe('invalid_json');
  });

  it('answers 404 for an unknown task, whatever the method', async () => {
    for (const [method, path] of [
      ['GET', '/v1/tasks/task_nope'],
      ['DELETE', '/v1/tasks/task_nope'],
      ['GET', '/v1/tasks/task_nope/events'],
    ] as const) {
      const r = await call(base, method, path);
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('not_found');
    }
  });

  it('runs a task to completion: plan, search and llm steps, answer; each step once, in order', async () => {
    const r = await call(base, 'POST', '/v1/tasks', { prompt: 'how do leases hand off work?' });
    expect(r.status).toBe(202);
    const id = r.body.id as string;
    expect(id).toMatch(/^task_[A-Za-z0-9_-]{24}$/); // 144 random bits
    const t = await waitForTask(base, id, (x) => x.status === 'completed');
    expect(t.steps.map((s) => s.index)).toEqual(t.steps.map((_, i) => i));
    expect(t.steps[0]!.kind).toBe('plan');
    expect(t.steps.at(-1)!.kind).toBe('answer');
    expect(t.steps.length).toBeGreaterThanOrEqual(4);
    expect(t.steps.length).toBeLessThanOrEqual(6);
    const search = t.steps.find((s) => s.kind === 'tool:search')!;
    expect(search.output.query).toBe('how do leases hand off work?');
    expect('hits' in search.output).toBe(true);
    expect(t.result).toEqual(t.steps.at(-1)!.output);
    expect(t.result!.text.length).toBeGreaterThan(0);

    // The same prompt gives the same steps and result: the run is deterministic.
    const again = (await call(base, 'POST', '/v1/tasks', { prompt: 'how do leases hand off work?' })).body.id as string;
    const t2 = await waitForTask(base, again, (x) => x.status === 'completed');
    expect(t2.steps.map((s) => s.output)).toEqual(t.steps.map((s) => s.output));
    expect(t2.result).toEqual(t.result);

    const events = await readEvents(`${base}/v1/tasks/${id}/events`);
    expect(events.map((e) => e.event)).toEqual([...t.steps.map(() => 'step'), 'done']);
    expect(events.filter((e) => e.event === 'step').map((e) => Number(e.id))).toEqual(t.steps.map((s) => s.index));
    expect(events.at(-1)!.data).toMatchObject({ status: 'completed', result: t.result });

    // Resuming replays only what came after the last event seen, by header or query.
    const resumed = await readEvents(`${base}/v1/tasks/${id}/events`, { 'Last-Event-ID': '1' });
    expect(resumed.filter((e) => e.event === 'step').map((e) => Number(e.id))).toEqual(t.steps.slice(2).map((s) => s.index));
    const byQuery = await readEvents(`${base}/v1/tasks/${id}/events?after=${t.steps.length - 1}`);
    expect(byQuery.map((e) => e.event)).toEqual(['done']);
    expect((await call(base, 'GET', `/v1/tasks/${id}/events?after=x`)).status).toBe(400);

    // A finished task cannot be cancelled.
    const del = await call(base, 'DELETE', `/v1/tasks/${id}`);
    expect(del.status).toBe(409);
    expect(del.body.error.code).toBe('task_finished');
  });

  it('streams steps live while the task runs', async () => {
    const id = (await call(base, 'POST', '/v1/tasks', { prompt: 'stream me the steps', max_steps: 4 })).body.id as string;
    const events = await readEvents(`${base}/v1/tasks/${id}/events`);
    const steps = events.filter((e) => e.event === 'step');
    expect(steps.map((e) => Number(e.id))).toEqual(steps.map((_, i) => i));
    expect(steps.length).toBe(4);
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { status: 'completed' } });
  });
});

describe('progress event streams', () => {
  it('are capped per replica at MAX_CONCURRENT_STREAMS with 429 + Retry-After: each polls the database', async () => {
    // 10 tokens/s keeps the task running, so its event streams stay open.
    const svc = await startService({ DEV_UPSTREAM_TOKENS_PER_SECOND: '10', MAX_CONCURRENT_STREAMS: '2' });
    running.push(svc);
    const id = (await call(svc.url, 'POST', '/v1/tasks', { prompt: 'watch me closely' })).body.id as string;
    await waitForTask(svc.url, id, (t) => t.status === 'running');
    const readers = [0, 1].map(() => new AbortController());
    const open = await Promise.all(readers.map((c) => fetch(`${svc.url}/v1/tasks/${id}/events`, { signal: c.signal })));
    expect(open.map((r) => r.status)).toEqual([200, 200]);
    const refused = await call(svc.url, 'GET', `/v1/tasks/${id}/events`);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({
      code: 'too_many_requests',
      message: expect.stringMatching(/2 task event streams/),
    });
    const metrics = await (await fetch(`${svc.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/lastcall_http_rejected_total\{reason="too_many_task_event_streams"[^}]*\} 1/);
    for (const c of readers) c.abort();
    // Closed streams leave room again.
    let again = 0;
    for (let i = 0; i < 50 && again !== 200; i++) {
      const r = await fetch(`${svc.url}/v1/tasks/${id}/events`, { signal: AbortSignal.timeout(500) }).catch(() => undefined);
      again = r?.status ?? 0;
      await r?.body?.cancel();
      if (again !== 200) await new Promise((res) => setTimeout(res, 100));
    }
    expect(again).toBe(200);
    await call(svc.url, 'DELETE', `/v1/tasks/${id}`);
  });
});

describe('cancelling', () => {
  it('stops a running task promptly: no step is recorded after the cancel', async () => {
    // 10 tokens/s: each LLM step takes 3 s or more, so the cancel lands mid-step.
    const svc = await startService({ DEV_UPSTREAM_TOKENS_PER_SECOND: '10' });
    running.push(svc);
    const id = (await call(svc.url, 'POST', '/v1/tasks', { prompt: 'cancel me' })).body.id as string;
    await waitForTask(svc.url, id, (t) => t.status === 'running');
    const del = await call(svc.url, 'DELETE', `/v1/tasks/${id}`);
    expect(del.status).toBe(200);
    expect(del.body.status).toBe('cancelled');
    const stepsAtCancel = (del.body.steps as unknown[]).length;
    await new Promise((r) => setTimeout(r, 4_000));
    const t = (await call(svc.url, 'GET', `/v1/tasks/${id}`)).body as TaskView;
    expect(t.status).toBe('cancelled');
    expect(t.steps.length).toBe(stepsAtCancel);
    // The worker let go of it at once rather than finishing the step.
    const metrics = await (await fetch(`${svc.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/lastcall_tasks_active\{[^}]*\} 0/);
    expect(metrics).toMatch(/lastcall_tasks_total\{outcome="cancelled"[^}]*\} 1/);
    expect((await call(svc.url, 'DELETE', `/v1/tasks/${id}`)).status).toBe(200); // idempotent
    const events = await readEvents(`${svc.url}/v1/tasks/${id}/events`);
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { status: 'cancelled' } });
  });

  it("hides another key's task as 404", async () => {
    const svc = await startService({ API_KEYS: 'key-one-0123456789abcdefghij,key-two-0123456789abcdefghij' });
    running.push(svc);
    const one = { authorization: 'Bearer key-one-0123456789abcdefghij' };
    const two = { authorization: 'Bearer key-two-0123456789abcdefghij' };
    const id = (await call(svc.url, 'POST', '/v1/tasks', { prompt: 'mine' }, one)).body.id as string;
    expect((await call(svc.url, 'GET', `/v1/tasks/${id}`, undefined, one)).status).toBe(200);
    expect((await call(svc.url, 'GET', `/v1/tasks/${id}`, undefined, two)).status).toBe(404);
    expect((await call(svc.url, 'DELETE', `/v1/tasks/${id}`, undefined, two)).status).toBe(404);
    expect((await call(svc.url, 'GET', `/v1/tasks/${id}/events`, undefined, two)).status).toBe(404);
  });
});

describe('a step that keeps failing', () => {
  let upstream: http.Server;
  let requests = 0;
  beforeAll(async () => {
    // A real upstream that always answers 500, so every attempt reaches the network.
    upstream = http.createServer((req, res) => {
      requests++;
      req.resume();
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"upstream exploded"}}');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  });
  afterAll(() => new Promise<void>((r) => upstream.close(() => r())));

  it('is retried a bounded number of times, then the task fails with the error', async () => {
    const { port } = upstream.address() as AddressInfo;
    const svc = await startService({ OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` });
    running.push(svc);
    const id = (await call(svc.url, 'POST', '/v1/tasks', { prompt: 'doomed' })).body.id as string;
    const t = await waitForTask(svc.url, id, (x) => x.status === 'failed');
    expect(t.error).toMatch(/step 0 \(plan\) failed 3 times/);
    expect(t.attempts).toBe(3);
    expect(t.steps).toEqual([]);
    expect(requests).toBe(3);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(requests).toBe(3); // and never again
    const metrics = await (await fetch(`${svc.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/lastcall_tasks_total\{outcome="failed"[^}]*\} 1/);
  });
});
