import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { rawConnection } from '../../testkit/http.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

/** Slow and silent clients get deadlines; a replica caps its connections and drains past a trickling body. */
describe('slow clients', () => {
  const running: ServiceProcess[] = [];
  afterEach(() => {
    for (const s of running.splice(0)) s.kill('SIGKILL');
  });
  const service = async (env: Record<string, string>) => {
    const s = await startService(env);
    running.push(s);
    return s;
  };
  const trickle = (c: Awaited<ReturnType<typeof rawConnection>>, everyMs: number) => {
    const t = setInterval(() => c.write('x'), everyMs);
    return () => clearInterval(t);
  };

  it('a body trickled a byte at a time gets 408 once REQUEST_TIMEOUT_SECONDS is up; a silent connection is closed', async () => {
    const svc = await service({ REQUEST_TIMEOUT_SECONDS: '2' });
    const slow = await rawConnection(svc.port);
    slow.write('POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    const stop = trickle(slow, 500);
    const silent = await rawConnection(svc.port);
    const t0 = performance.now();
    try {
      await slow.closed(10_000);
      expect(slow.data).toMatch(/^HTTP\/1\.1 408/);
      expect(performance.now() - t0).toBeLessThan(5_000);
      await silent.closed(10_000);
      expect(silent.data).toBe('');
    } finally {
      stop();
    }
  });

  it('connections over MAX_CONNECTIONS are dropped on accept and counted', async () => {
    const svc = await service({ MAX_CONNECTIONS: '3' });
    const held = await Promise.all([1, 2, 3].map(() => rawConnection(svc.port)));
    await new Promise((r) => setTimeout(r, 200));
    expect(await svc.metric('lastcall_http_connections')).toBe(3);
    const extra = net.connect(svc.port, '127.0.0.1');
    const closed = await new Promise<boolean>((resolve) => {
      extra.once('close', () => resolve(true));
      extra.once('error', () => undefined);
      setTimeout(() => resolve(false), 3_000);
    });
    expect(closed).toBe(true);
    expect(await svc.metric('lastcall_http_rejected_total{reason="too_many_connections"')).toBe(1);
    for (const c of held) c.socket.destroy();
  });

  it('a body still arriving at stop-intake is refused with 503, so the drain does not wait for it', async () => {
    const svc = await service({
      TERMINATION_GRACE_PERIOD_SECONDS: '20',
      SHUTDOWN_SAFETY_MARGIN_SECONDS: '1',
      REQUEST_TIMEOUT_SECONDS: '60',
    });
    const slow = await rawConnection(svc.port);
    slow.write('POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    const stop = trickle(slow, 1_000);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      svc.kill('SIGTERM');
      await slow.closed(10_000);
      expect(slow.data).toMatch(/^HTTP\/1\.1 503/);
      expect(slow.data).toMatch(/"code":"draining"/);
      const exit = await svc.exited;
      expect(exit.code).toBe(0);
      // The budget is 19 s; without the cut the drain phase would have used nearly all of it.
      expect(exit.at - t0).toBeLessThan(3_000);
    } finally {
      stop();
    }
  });
});
