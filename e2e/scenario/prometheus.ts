import { dashboardQueries } from '../../dashboards/lastcall.js';
import { PHASES } from '../../src/drain/phases.js';
import { METRICS } from '../../src/metrics/names.js';

interface PromResponse {
  status: string;
  error?: string;
  data: {
    resultType: string;
    result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[];
  };
}

async function query(url: string, path: string, params: Record<string, string>): Promise<PromResponse['data']['result']> {
  const res = await fetch(`${url}${path}?${new URLSearchParams(params).toString()}`);
  const body = (await res.json()) as PromResponse;
  if (body.status !== 'success') throw new Error(`prometheus ${path} ${params.query}: ${body.error ?? res.status}`);
  return body.data.result;
}

/** Sum of an instant query's values (0 when it returns nothing). */
export async function scalar(url: string, expr: string, at: number): Promise<number> {
  const result = await query(url, '/api/v1/query', { query: expr, time: String(at / 1000) });
  return result.reduce((sum, r) => sum + Number(r.value?.[1] ?? 0), 0);
}

export interface PrometheusFindings {
  /** Replicas seen in each lifecycle state during the run. */
  readonly phasesSeen: Record<string, number>;
  readonly streamHandoffs: number;
  readonly streamResumes: number;
  readonly taskHandoffs: number;
  /** Dashboard panel queries that returned no data over the run. */
  readonly emptyDashboardQueries: string[];
}

/**
 * What Prometheus saw over [from, to]: the drain phases per replica (lastcall_shutdown_phase was 1
 * in some scrape), the handoff and resume counters summed over replicas (max_over_time, since
 * replaced pods' series end), and whether each dashboard query has data over the run's range, the
 * way the dashboard itself would query it.
 */
export async function prometheusFindings(url: string, from: number, to: number): Promise<PrometheusFindings> {
  const window = `${Math.ceil((to - from) / 1000) + 5}s`;
  const phasesSeen: Record<string, number> = {};
  for (const phase of ['serving', ...PHASES]) {
    const r = await query(url, '/api/v1/query', {
      query: `max by (replica) (max_over_time(${METRICS.shutdownPhase}{phase="${phase}"}[${window}])) == 1`,
      time: String(to / 1000),
    });
    phasesSeen[phase] = r.length;
  }
  const total = (metric: string) => scalar(url, `sum(max by (replica) (max_over_time(${metric}[${window}])))`, to);
  const emptyDashboardQueries: string[] = [];
  for (const q of dashboardQueries()) {
    const r = await query(url, '/api/v1/query_range', {
      query: q.expr,
      start: String(from / 1000),
      end: String(to / 1000),
      step: '2s',
    });
    if (r.length === 0) emptyDashboardQueries.push(`${q.title}: ${q.expr}`);
  }
  return {
    phasesSeen,
    streamHandoffs: await total(METRICS.streamHandoffs),
    streamResumes: await total(METRICS.streamResumes),
    taskHandoffs: await total(METRICS.taskHandoffs),
    emptyDashboardQueries,
  };
}

/** One alert of the chart's rules (helm/lastcall/rules/lastcall-alerts.yaml) seen during a case. */
export interface AlertSeen {
  readonly alertname: string;
  /** The alert's labels other than alertname, alertstate and severity (e.g. replica, kind). */
  readonly labels: Record<string, string>;
  readonly severity: string | undefined;
  /** Epoch ms it became active (pending or firing): ALERTS_FOR_STATE, else its first sample. */
  readonly activeAt: number;
  /** Epoch ms of the first and last evaluation it was firing in the range; undefined: only pending. */
  readonly firingFrom: number | undefined;
  readonly firingTo: number | undefined;
  /** It was already active before the range began (fired by an earlier case, still in its window). */
  readonly carriedOver: boolean;
}

const ALERT_META = new Set(['__name__', 'alertname', 'alertstate', 'severity']);
const labelKey = (m: Record<string, string>) =>
  JSON.stringify(
    Object.entries(m)
      .filter(([k]) => !ALERT_META.has(k))
      .sort(([a], [b]) => a.localeCompare(b)),
  );

/**
 * The alerts Prometheus had pending or firing over [from, to] (ALERTS, evaluated every second by
 * the local harness' Prometheus), with when each became active (ALERTS_FOR_STATE).
 */
export async function alertsDuring(url: string, from: number, to: number): Promise<AlertSeen[]> {
  const range = { start: String(from / 1000), end: String(to / 1000), step: '1s' };
  const states = await query(url, '/api/v1/query_range', { query: 'ALERTS', ...range });
  const forState = await query(url, '/api/v1/query_range', { query: 'ALERTS_FOR_STATE', ...range });
  const activeAt = new Map<string, number>();
  for (const r of forState) {
    const key = `${r.metric.alertname}${labelKey(r.metric)}`;
    const min = Math.min(...(r.values ?? []).map(([, v]) => Number(v) * 1000));
    if (Number.isFinite(min)) activeAt.set(key, Math.min(activeAt.get(key) ?? Infinity, min));
  }
  const seen = new Map<
    string,
    { alertname: string; labels: Record<string, string>; severity?: string; first: number; firing: number[] }
  >();
  for (const r of states) {
    const key = `${r.metric.alertname}${labelKey(r.metric)}`;
    const times = (r.values ?? []).filter(([, v]) => Number(v) === 1).map(([t]) => t * 1000);
    if (times.length === 0) continue;
    const e = seen.get(key) ?? {
      alertname: r.metric.alertname!,
      labels: Object.fromEntries(Object.entries(r.metric).filter(([k]) => !ALERT_META.has(k))),
      severity: r.metric.severity,
      first: Infinity,
      firing: [],
    };
    e.first = Math.min(e.first, ...times);
    if (r.metric.alertstate === 'firing') e.firing.push(...times);
    seen.set(key, e);
  }
  return [...seen.entries()].map(([key, e]) => {
    const since = activeAt.get(key) ?? e.first;
    return {
      alertname: e.alertname,
      labels: e.labels,
      severity: e.severity,
      activeAt: since,
      firingFrom: e.firing.length ? Math.min(...e.firing) : undefined,
      firingTo: e.firing.length ? Math.max(...e.firing) : undefined,
      carriedOver: since < from,
    };
  });
}
