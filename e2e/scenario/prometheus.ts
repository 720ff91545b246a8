import { dashboardQueries } from '../../dashboards/lastcall.js';
import { PHASES } from '../../src/drain/phases.js';
import { METRICS } from '../../src/metrics/names.js';

interface PromResponse {
  status: string;
  error?: string;
  data: { resultType: string; result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] };
}

async function query(url: string, path: string, params: Record<string, string>): Promise<PromResponse['data']['result']> {
  const res = await fetch(`${url}${path}?${new URLSearchParams(params).toString()}`);
  const body = (await res.json()) as PromResponse;
  if (body.status !== 'success') throw new Error(`prometheus ${path} ${params.query}: ${body.error ?? res.status}`);
  return body.data.result;
}

/** Sum of an instant query's values (0 when it returns nothing). */
async function scalar(url: string, expr: string, at: number): Promise<number> {
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
