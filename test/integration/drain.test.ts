import { afterEach, describe, expect, it } from 'vitest';
import { streamChat } from '../../src/client/index.js';
import { plan } from '../../src/upstream/text.js';
import { rawConnection } from '../../testkit/http.js';
import { startPostgres } from '../../testkit/postgres.js';
import { runServiceToExit, startService, type ServiceProcess } from '../../testkit/service.js';

const running: ServiceProcess[] = [];
afterEach(() => {
  for (const s of running.splice(0)) s.kill('SIGKILL');
});
async function service(env: Record<string, string> = {}) {
  const s = await startService(env);
  running.push(s);
  return s;
}
const get = (url: string) =>
  fetch(url).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

describe('SIGTERM on a real process', () => {
  it('flips readiness at once, keeps liveness, serves during announce with Connection: close, then closes idle sockets cleanly', async () => {
    const svc = await service({ ENDPOINT_PROPAGATION_SECONDS: '1.5', TERMINATION_GRACE_PERIOD_SECONDS: '10' });
    const idle = await rawConnection(svc.port);
    const busy = await rawConnection(svc.port);
    // Both keep-alive sockets have served a request before the signal.
    for (const c of [idle, busy]) {
      c.write('GET /v1/unknown HTTP/1.1\r\nHost: t\r\n\r\n');
      expect((await c.response()).headers.connection).toBe('keep-alive');
    }
    const t0 = performance.now();
    svc.kill('SIGTERM');
    await svc.waitForLog((l) => l.phase === 'announce');
    expect((await get(`${svc.adminUrl}/readyz`)).status).toBe(503);
    expect((await get(`${svc.adminUrl}/livez`)).status).toBe(200);

    // A request sent during announce on an old keep-alive socket is answered, not reset.
    busy.write('GET /v1/unknown HTTP/1.1\r\nHost: t\r\n\r\n');
    const during = await busy.response();
    expect(during.status).toBe(404);
    expect(during.headers.connection).toBe('close');
    await busy.closed();
    expect(busy.closedBy).toBe('end');

    // The idle socket is closed cleanly (FIN, no reset) once intake stops.
    await idle.closed();
    expect(idle.closedBy).toBe('end');
    expect(idle.errorCode).toBeUndefined();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1_400);

    const exit = await svc.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - t0).toBeLessThan(8_000); // budget: 10 − 0 − 2
    const report = svc.logs.find((l) => l.msg === 'drain report')?.report as {
      phases: { name: string }[];
      withinBudget: boolean;
    };
    expect(report.phases.map((p) => p.name)).toEqual(['announce', 'stop-intake', 'drain', 'handoff', 'release', 'exit']);
    expect(report.withinBudget).toBe(true);
  });

  it('lets a slow in-flight request finish during drain, refuses new ones, and exits 0 inside the budget', async () => {
    const svc = await service({
      ENDPOINT_PROPAGATION_SECONDS: '0.5',
      TERMINATION_GRACE_PERIOD_SECONDS: '12',
      DEV_UPSTREAM_TOKENS_PER_SECOND: '40',
    });
    const messages = [{ role: 'user', content: 'a slow answer that outlives the signal' }];
    const events: string[] = [];
    // 80 tokens at 40/s: about 2 s, well inside the 10 s budget.
    const inFlight = streamChat(svc.url, { messages, max_tokens: 80 }, { onEvent: (e) => events.push(e.event), maxAttempts: 1 });
    while (!events.includes('token')) await new Promise((r) => setTimeout(r, 20));
    const t0 = performance.now();
    svc.kill('SIGTERM');
    await svc.waitForLog((l) => l.phase === 'announce');
    expect((await get(`${svc.adminUrl}/readyz`)).status).toBe(503);
    expect((await get(`${svc.adminUrl}/livez`)).status).toBe(200);
    const result = await inFlight;
    expect(result.text).toBe(plan(messages, 80).tokens.join(''));
    expect(result.finishReason).toBe('length');
    expect(events).not.toContain('end');
    expect(result.resumes).toBe(0);
    const exit = await svc.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - t0).toBeLessThan(10_000);
    const report = svc.logs.find((l) => l.msg === 'drain report')?.report as { phases: { name: string; durationMs: number }[] };
    expect(report.phases.map((p) => p.name)).toEqual(['announce', 'stop-intake', 'drain', 'handoff', 'release', 'exit']);
    // The drain phase lasted as long as the stream needed, not the whole budget.
    const drain = report.phases.find((p) => p.name === 'drain')!;
    expect(drain.durationMs).toBeGreaterThan(300);
    expect(drain.durationMs).toBeLessThan(5_000);
  });

  it('exits 0 inside the budget even when a participant ignores its deadline (PostgreSQL frozen by SIGSTOP)', async () => {
    const pg = await startPostgres();
    try {
      const svc = await service({
        DATABASE_URL: pg.url,
        ENDPOINT_PROPAGATION_SECONDS: '0',
        TERMINATION_GRACE_PERIOD_SECONDS: '6',
        SHUTDOWN_SAFETY_MARGIN_SECONDS: '1',
      });
      // Work in flight whose next database write will hang: a stream and a task.
      const events: string[] = [];
      const stream = streamChat(
        svc.url,
        { messages: [{ role: 'user', content: 'frozen' }], max_tokens: 400 },
        { onEvent: (e) => events.push(e.event), maxAttempts: 1 },
      ).catch(() => undefined);
      await fetch(`${svc.url}/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'frozen database' }),
      });
      while (!events.includes('token')) await new Promise((r) => setTimeout(r, 20));
      pg.pause();
      const t0 = performance.now();
      svc.kill('SIGTERM');
      const exit = await svc.exited;
      expect(exit.code).toBe(0);
      // The sequence ends inside the 5 s budget (withinBudget below); the process is gone
      // before the kubelet's SIGKILL at 6 s even on a loaded machine.
      expect(exit.at - t0).toBeLessThan(6_000);
      const report = svc.logs.find((l) => l.msg === 'drain report')?.report as {
        withinBudget: boolean;
        phases: { name: string; participants: { name: string; outcome: string }[] }[];
      };
      expect(report.withinBudget).toBe(true);
      // The database participant waited on queries that never return, and was abandoned.
      const release = report.phases.find((p) => p.name === 'release')!;
      expect(release.participants.find((p) => p.name === 'database')?.outcome).toBe('timeout');
      void stream;
    } finally {
      await pg.stop();
    }
  });

  it('answers a request that arrives on an old socket after stop-intake with 503, Retry-After and Connection: close', async () => {
    const svc = await service({ ENDPOINT_PROPAGATION_SECONDS: '0', TERMINATION_GRACE_PERIOD_SECONDS: '10' });
    const conn = await rawConnection(svc.port);
    // Headers half-sent when the signal lands: the socket is not idle, so it is not cut.
    conn.write('GET /v1/anything HTTP/1.1\r\nHost: t\r\n');
    await new Promise((r) => setTimeout(r, 100));
    svc.kill('SIGTERM');
    await svc.waitForLog((l) => l.msg === 'shutdown phase ended' && l.phase === 'stop-intake');
    conn.write('\r\n');
    const res = await conn.response();
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'draining' } });
    expect((await svc.exited).code).toBe(0);
  });

  it('holds the exit phase for one final scrape when FINAL_SCRAPE_WAIT_SECONDS is set, then exits at once', async () => {
    const svc = await service({
      ENDPOINT_PROPAGATION_SECONDS: '0',
      TERMINATION_GRACE_PERIOD_SECONDS: '10',
      FINAL_SCRAPE_WAIT_SECONDS: '4',
    });
    svc.kill('SIGTERM');
    await svc.waitForLog((l) => l.msg === 'shutdown phase started' && l.phase === 'exit');
    const scrape = await (await fetch(`${svc.adminUrl}/metrics`)).text();
    const scrapedAt = performance.now();
    // What Prometheus gets: the replica in its last phase, the earlier phases' durations.
    expect(scrape).toMatch(/^lastcall_shutdown_phase\{[^}]*phase="exit"[^}]*\} 1$/m);
    expect(scrape).toMatch(/^lastcall_shutdown_phase_duration_seconds\{[^}]*phase="release"[^}]*\} /m);
    const exit = await svc.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - scrapedAt).toBeLessThan(1_000);
    const report = svc.logs.find((l) => l.msg === 'drain report')?.report as {
      phases: { name: string; participants: { name: string; detail?: unknown }[] }[];
    };
    const exitPhase = report.phases.find((p) => p.name === 'exit')!;
    expect(exitPhase.participants).toEqual([
      expect.objectContaining({ name: 'metrics:final-scrape', detail: { scraped: true } }),
    ]);
  });

  it('ignores a second signal and still exits 0 once', async () => {
    const svc = await service({ ENDPOINT_PROPAGATION_SECONDS: '1' });
    svc.kill('SIGTERM');
    await svc.waitForLog((l) => l.phase === 'announce');
    svc.kill('SIGINT');
    await svc.waitForLog((l) => l.msg === 'shutdown already in progress; signal ignored');
    expect((await svc.exited).code).toBe(0);
    expect(svc.logs.filter((l) => l.msg === 'drain report')).toHaveLength(1);
    expect(svc.logs.filter((l) => l.msg === 'shutdown phase started' && l.phase === 'announce')).toHaveLength(1);
  });

  it('writes the drain report where the kubelet reads termination messages', async () => {
    const fs = await import('node:fs');
    const svc = await service();
    fs.writeFileSync(`${svc.dataDir}/termination-log`, '');
    svc.kill('SIGTERM');
    expect((await svc.exited).code).toBe(0);
    const msg = JSON.parse(fs.readFileSync(`${svc.dataDir}/termination-log`, 'utf8')) as { phases: unknown[]; reason: string };
    expect(msg.reason).toBe('SIGTERM');
    expect(msg.phases).toHaveLength(6);
  });
});

describe('start-up validation', () => {
  it('exits 1 with one readable line naming the bad variable', async () => {
    const r = await runServiceToExit({ TERMINATION_GRACE_PERIOD_SECONDS: 'soon' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^lastcall: invalid environment: TERMINATION_GRACE_PERIOD_SECONDS: /);
  });

  it('refuses a preStop that leaves no drain budget, naming the numbers', async () => {
    const r = await runServiceToExit({ TERMINATION_GRACE_PERIOD_SECONDS: '10', PRESTOP_SLEEP_SECONDS: '9' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/shutdown budget too small: .*PRESTOP_SLEEP_SECONDS \(9\)/);
  });

  it('refuses a second process on the same embedded database directory', async () => {
    const first = await service();
    const r = await runServiceToExit({ DATA_DIR: first.dataDir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/in use by another lastcall process.*DATABASE_URL/);
  });
});

describe('public API errors', () => {
  it('answers bad requests with 4xx JSON naming the problem', async () => {
    const svc = await service({ MAX_BODY_BYTES: '1024' });
    const post = (path: string, body: string, type = 'application/json') =>
      fetch(`${svc.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { error: { code: string; message: string } },
      }));
    const malformed = await post('/v1/chat/stream', '{"messages": [');
    expect(malformed).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    const huge = await post('/v1/chat/stream', JSON.stringify({ x: 'y'.repeat(2048) }));
    expect(huge).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
    expect(huge.body.error.message).toMatch(/1024 bytes/);
    const wrongType = await post('/v1/chat/stream', 'hello', 'text/plain');
    expect(wrongType).toMatchObject({ status: 415, body: { error: { code: 'unsupported_media_type' } } });
    const unknown = await get(`${svc.url}/v1/nope`);
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
  });

  it('requires a known bearer key when API_KEYS is set', async () => {
    const svc = await service({ API_KEYS: 'k-one-0123456789abcdefghij,k-two-0123456789abcdefghij' });
    // Auth runs once a route matched (so the request is counted under its route).
    const r = await fetch(`${svc.url}/v1/streams/AAAAAAAAAAAAAAAAAAAAAA`);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
    expect(await r.json()).toMatchObject({ error: { code: 'unauthorized' } });
    const ok = await fetch(`${svc.url}/v1/streams/AAAAAAAAAAAAAAAAAAAAAA`, {
      headers: { authorization: 'Bearer k-two-0123456789abcdefghij' },
    });
    expect(ok.status).toBe(404);
    expect(svc.logs.map((l) => JSON.stringify(l)).join('\n')).not.toMatch(/k-one-|k-two-/);
  });
});
