/**
 * The Grafana dashboard is generated from dashboards/lastcall.ts: the committed JSON must match
 * a fresh generation, and every query may only use metric names from src/metrics/names.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DASHBOARD_JSON_PATH,
  DASHBOARD_UID,
  LIFECYCLE_STATES,
  buildDashboard,
  dashboardJson,
  dashboardQueries,
} from '../../dashboards/lastcall.js';
import { metricNames } from '../../dashboards/promql.js';
import { PHASES } from '../../src/drain/phases.js';
import { METRICS } from '../../src/metrics/names.js';
import { ROOT } from './helm.js';

const KNOWN_METRICS = new Set<string>(Object.values(METRICS));
/** A name from names.ts, or a histogram's series of one (`_bucket`, `_sum`, `_count`). */
const known = (n: string): boolean => KNOWN_METRICS.has(n) || KNOWN_METRICS.has(n.replace(/_(bucket|sum|count)$/, ''));

describe('Grafana dashboard', () => {
  // That the committed JSON equals a fresh generation: test/chart/generated.test.ts.
  it('parses as the dashboard the chart ships', () => {
    const committed = JSON.parse(readFileSync(join(ROOT, DASHBOARD_JSON_PATH), 'utf8')) as { uid: string };
    expect(committed.uid).toBe(DASHBOARD_UID);
  });

  it('has the fixed uid, a ${datasource} Prometheus variable, and says it is generated', () => {
    const d = buildDashboard();
    expect(d.uid).toBe(DASHBOARD_UID);
    expect(DASHBOARD_UID).toBe('lastcall-drain');
    const ds = d.templating?.list?.find((v) => v.name === 'datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(d.description).toMatch(/GENERATED .* do not edit/);
    const json = JSON.parse(dashboardJson()) as {
      panels: { type: string; datasource?: { uid: string }; targets?: { datasource: { uid: string } }[] }[];
    };
    for (const p of json.panels.filter((x) => x.type !== 'row')) {
      expect(p.datasource?.uid).toBe('${datasource}');
      for (const t of p.targets ?? []) expect(t.datasource.uid).toBe('${datasource}');
    }
  });

  it('has the panels the drain story needs', () => {
    const titles = new Set(dashboardQueries().map((q) => q.title));
    for (const t of [
      'Ready replicas',
      'Drain phase timeline per pod',
      'Phase durations (longest in range)',
      'Shutdown budget',
      'In-flight requests',
      'Rejected requests by reason',
      'Active streams',
      'Stream outcomes',
      'Stream resumes and handoffs',
      'Stream takeovers by via',
      'How takeovers continued',
      'Regenerated tokens',
      'Stream log write latency (p99)',
      'Tasks active',
      'Task handoffs and recoveries by via',
      'Embedding model loaded',
      'Embedding model bytes and memory returned',
      'Process RSS',
    ]) {
      expect(titles.has(t), t).toBe(true);
    }
    const timeline = buildDashboard().panels?.find((p) => 'title' in p && p.title === 'Drain phase timeline per pod');
    expect(timeline?.type).toBe('state-timeline');
  });

  it('every query uses only metric names from src/metrics/names.ts', () => {
    const used = new Set<string>();
    for (const q of dashboardQueries()) {
      const names = metricNames(q.expr);
      expect(names.length, `${q.title}: ${q.expr}`).toBeGreaterThan(0);
      for (const n of names) {
        expect(known(n), `${q.title}: unknown metric ${n} in ${q.expr}`).toBe(true);
        used.add(n.replace(/_(bucket|sum|count)$/, ''));
      }
    }
    // The contract's headline metrics all appear somewhere.
    for (const m of [
      METRICS.ready,
      METRICS.shutdownPhase,
      METRICS.shutdownPhaseDuration,
      METRICS.shutdownBudget,
      METRICS.httpInFlight,
      METRICS.httpRejected,
      METRICS.streamsActive,
      METRICS.streamsTotal,
      METRICS.streamResumes,
      METRICS.streamHandoffs,
      METRICS.tasksActive,
      METRICS.taskHandoffs,
      METRICS.tasksRecovered,
      METRICS.embeddingModelLoaded,
      METRICS.embeddingModelBytes,
      METRICS.embeddingMemoryReturnedBytes,
      METRICS.processResidentMemory,
      METRICS.embeddingsInFlight,
      METRICS.taskStepDuration,
    ]) {
      expect(used.has(m), m).toBe(true);
    }
  });

  it('the name check itself catches strangers', () => {
    expect(metricNames('sum by (replica) (rate(lastcall_nope_total{a="b"}[1m]))')).toEqual(['lastcall_nope_total']);
    expect(metricNames('max by (x) (a * 2 or b{phase="serving"} * 3)')).toEqual(['a', 'b']);
  });

  it('dashboardQueries() returns Prometheus-ready expressions (no Grafana variables)', () => {
    for (const q of dashboardQueries()) expect(q.expr, q.title).not.toMatch(/\$/);
    // ...while the dashboard itself keeps $__rate_interval.
    expect(dashboardQueries({ grafana: true }).some((q) => q.expr.includes('$__rate_interval'))).toBe(true);
    expect(dashboardQueries().length).toBe(dashboardQueries({ grafana: true }).length);
  });

  it('the phase timeline maps every lifecycle state, the contract phases in order', () => {
    expect(LIFECYCLE_STATES.slice(2, 2 + PHASES.length)).toEqual([...PHASES]);
    const expr = dashboardQueries().find((q) => q.title === 'Drain phase timeline per pod')!.expr;
    for (const s of LIFECYCLE_STATES) expect(expr).toContain(`phase="${s}"`);
  });
});
