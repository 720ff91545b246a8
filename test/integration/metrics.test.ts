import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { ALERTS, alertExpr } from '../../dashboards/alerts.js';
import { dashboardQueries } from '../../dashboards/lastcall.js';
import { metricNames } from '../../dashboards/promql.js';
import { streamChat } from '../../src/client/index.js';
import { METRICS } from '../../src/metrics/names.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

/** Metric families a live /metrics declares (`# TYPE name kind`). */
function exportedFamilies(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

describe('metrics a live replica exports', () => {
  let svc: ServiceProcess | undefined;
  afterAll(() => svc?.kill('SIGKILL'));

  it('include every metric the Grafana dashboard and the alert rules query, and the contract’s list', async () => {
    svc = await startService();
    await streamChat(svc.url, { messages: [{ role: 'user', content: 'metrics' }], max_tokens: 4 });
    const families = exportedFamilies(await (await fetch(`${svc.adminUrl}/metrics`)).text());
    const missing: string[] = [];
    for (const q of dashboardQueries()) {
      for (const name of metricNames(q.expr)) {
        const family = families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
        if (!families.has(family)) missing.push(`${q.title}: ${name}`);
      }
    }
    for (const a of ALERTS) {
      for (const name of metricNames(alertExpr(a))) if (!families.has(name)) missing.push(`alert ${a.name}: ${name}`);
    }
    expect(missing).toEqual([]);
    for (const name of Object.values(METRICS)) expect(families.has(name), name).toBe(true);
    expect(families.get(METRICS.taskStepDuration)).toBe('histogram');
  });
});

describe('the exposition', () => {
  let svc: ServiceProcess | undefined;
  afterAll(() => svc?.kill('SIGKILL'));

  it('passes `promtool check metrics`, and route labels are templates wherever a request failed', async () => {
    const KEY = 'm'.repeat(32);
    svc = await startService({ API_KEYS: KEY });
    const auth = { Authorization: `Bearer ${KEY}` };
    await fetch(`${svc.url}/v1/chat/stream`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: '{"messages":',
    });
    await fetch(`${svc.url}/v1/streams/AAAAAAAAAAAAAAAAAAAAAA`, { headers: auth });
    await fetch(`${svc.url}/V1/tasks/task_x`, { headers: auth });
    await fetch(`${svc.url}/v1/tasks/%ZZ`, { headers: auth });
    await fetch(`${svc.url}/v1/nowhere`, { headers: auth });
    await fetch(`${svc.url}/v1/tasks`, { method: 'PUT', headers: auth });
    const text = await (await fetch(`${svc.adminUrl}/metrics`)).text();
    const routes = new Set([...text.matchAll(/^lastcall_http_requests_total\{route="([^"]*)"/gm)].map((m) => m[1]));
    expect([...routes].sort()).toEqual(['/v1/chat/stream', '/v1/streams/:id', '/v1/tasks', '/v1/tasks/:id', 'unmatched']);

    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (promtool.error)
      throw new Error(`promtool is needed (scripts/ci/install-system.sh installs it): ${promtool.error.message}`);
    expect(promtool.stdout + promtool.stderr).toBe('');
    expect(promtool.status).toBe(0);
  });
});
