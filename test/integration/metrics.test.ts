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
