/**
 * The lastcall Grafana dashboard, as typed code (grafana-foundation-sdk).
 *
 * `npx tsx dashboards/generate.ts` (or `make dashboard`) writes it to
 * helm/lastcall/dashboards/lastcall.json, which the chart ships as a ConfigMap labelled
 * `grafana_dashboard: "1"`. Edit this file, never the JSON; test/chart checks they agree.
 *
 * Metric names come from src/metrics/names.ts, so a rename breaks the build instead of
 * silently emptying a panel. Every series carries the registry's default label `replica`
 * (REPLICA_ID: the pod name in Kubernetes, a process id locally), so panels group by
 * `replica` and work the same in a cluster and in the local harness.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { PHASES } from '../src/drain/phases.js';
import { METRICS } from '../src/metrics/names.js';
import { ALERTS } from './alerts.js';
import { LIFECYCLE_STATES, Q, RANGE, RATE } from './queries.js';

export const DASHBOARD_UID = 'lastcall-drain';
export const DASHBOARD_TITLE = 'lastcall — drain';
/** Where the generated JSON lives, relative to the repository root. */
export const DASHBOARD_JSON_PATH = 'helm/lastcall/dashboards/lastcall.json';

const DATASOURCE: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
/** What `dashboardQueries()` puts in place of Grafana's windows. */
const PROMETHEUS_RATE = '1m';
const PROMETHEUS_RANGE = '15m';

/**
 * The timeline maps each lifecycle state (queries.ts LIFECYCLE_STATES) to its 1-based position so
 * one row per replica can show the current state as a colour.
 */
export { LIFECYCLE_STATES };
const STATE_COLORS: Record<(typeof LIFECYCLE_STATES)[number], string> = {
  starting: 'blue',
  serving: 'green',
  announce: 'yellow',
  'stop-intake': 'orange',
  drain: 'purple',
  handoff: 'red',
  release: 'dark-red',
  exit: 'text',
  exited: 'transparent',
};

type Viz = 'timeseries' | 'stat' | 'statetimeline' | 'bargauge';

interface Query {
  readonly expr: string;
  readonly legend: string;
  /** Instant query (bar gauge of "the longest value in range"). */
  readonly instant?: boolean;
}

interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly viz: Viz;
  readonly unit: string;
  readonly queries: readonly Query[];
  readonly width: number;
  readonly height: number;
  readonly stacked?: boolean;
  readonly mappings?: dashboard.ValueMapping[];
  readonly min?: number;
}

interface RowSpec {
  readonly title: string;
  readonly panels: readonly PanelSpec[];
}

/** The dashboard's content as data; the builders below only render it. */
export const ROWS: readonly RowSpec[] = [
  {
    title: 'Overview',
    panels: [
      {
        title: 'Ready replicas',
        description: `Replicas whose /readyz answers 200 (sum of ${METRICS.ready}). A drain flips it to 0 first.`,
        viz: 'stat',
        unit: 'none',
        width: 6,
        height: 6,
        queries: [{ expr: Q.readyReplicas(), legend: 'ready' }],
      },
      {
        title: 'Ready replicas over time',
        description: `${METRICS.ready} per replica: a rollout should never take the sum below the desired count (maxUnavailable 0).`,
        viz: 'timeseries',
        unit: 'none',
        width: 18,
        height: 6,
        stacked: true,
        min: 0,
        queries: [{ expr: Q.readyByReplica(), legend: '{{replica}}' }],
      },
    ],
  },
  {
    title: 'Drain',
    panels: [
      {
        title: 'Drain phase timeline per pod',
        description: `The lifecycle state of each replica (${METRICS.shutdownPhase}{phase} = 1): serving, then ${PHASES.join(' → ')}.`,
        viz: 'statetimeline',
        unit: 'none',
        width: 24,
        height: 8,
        queries: [{ expr: Q.lifecycleState(), legend: '{{replica}}' }],
        mappings: [
          {
            type: dashboard.MappingType.ValueToText,
            options: Object.fromEntries(
              LIFECYCLE_STATES.map((s, i) => [String(i + 1), { text: s, color: STATE_COLORS[s], index: i }]),
            ),
          },
        ],
      },
      {
        title: 'Phase durations (longest in range)',
        description: `${METRICS.shutdownPhaseDuration}{phase}: how long each phase of the latest drains took.`,
        viz: 'bargauge',
        unit: 's',
        width: 12,
        height: 8,
        queries: [
          {
            expr: Q.phaseDurations(),
            legend: '{{phase}}',
            instant: true,
          },
        ],
      },
      {
        title: 'Shutdown budget',
        description: `${METRICS.shutdownBudget}: grace − preStop − margin, the time a replica has from SIGTERM to its promised exit.`,
        viz: 'timeseries',
        unit: 's',
        width: 6,
        height: 8,
        min: 0,
        queries: [{ expr: Q.budgetByReplica(), legend: '{{replica}}' }],
      },
      {
        title: 'Participant timeouts',
        description: `${METRICS.shutdownParticipantTimeouts}: shutdown participants abandoned at their deadline or failed (should stay 0).`,
        viz: 'timeseries',
        unit: 'none',
        width: 6,
        height: 8,
        min: 0,
        queries: [
          {
            expr: Q.participantTimeouts(),
            legend: '{{phase}} {{outcome}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Requests and streams',
    panels: [
      {
        title: 'In-flight requests',
        description: `${METRICS.httpInFlight} per replica (streams included): a draining replica should fall to 0 before its budget ends.`,
        viz: 'timeseries',
        unit: 'none',
        width: 8,
        height: 8,
        stacked: true,
        min: 0,
        queries: [{ expr: Q.inFlightByReplica(), legend: '{{replica}}' }],
      },
      {
        title: 'Rejected requests by reason',
        description: `${METRICS.httpRejected}{reason}: draining (503 + Retry-After from stop-intake on), too_many_streams (429: generations at MAX_CONCURRENT_STREAMS), too_many_stream_clients (429: stream client connections at twice that), too_many_task_event_streams (429: task event streams at MAX_CONCURRENT_STREAMS), unauthorized (401).`,
        viz: 'timeseries',
        unit: 'reqps',
        width: 8,
        height: 8,
        stacked: true,
        min: 0,
        queries: [{ expr: Q.rejectedByReason(), legend: '{{reason}}' }],
      },
      {
        title: 'Active streams',
        description: `${METRICS.streamsActive} per replica.`,
        viz: 'timeseries',
        unit: 'none',
        width: 8,
        height: 8,
        stacked: true,
        min: 0,
        queries: [{ expr: Q.streamsActiveByReplica(), legend: '{{replica}}' }],
      },
      {
        title: 'Stream outcomes',
        description: `${METRICS.streamsTotal}{outcome}: how streams ended on this side (a handoff is not a failure).`,
        viz: 'timeseries',
        unit: 'ops',
        width: 12,
        height: 8,
        stacked: true,
        min: 0,
        queries: [{ expr: Q.streamOutcomes(), legend: '{{outcome}}' }],
      },
      {
        title: 'Stream resumes and handoffs',
        description: `Streams handed off at shutdown (${METRICS.streamHandoffs}: the resumable end event) and resumed on any replica (${METRICS.streamResumes}).`,
        viz: 'timeseries',
        unit: 'ops',
        width: 12,
        height: 8,
        min: 0,
        queries: [
          { expr: Q.streamHandoffs(), legend: 'handed off' },
          { expr: Q.streamResumes(), legend: 'resumed' },
        ],
      },
    ],
  },
  {
    title: 'Stream takeovers (resume modes)',
    panels: [
      {
        title: 'Stream takeovers by via',
        description: `${METRICS.streamTakeovers}{via}: generations continued by another replica, released at a handoff or after the lease expired (the replica died).`,
        viz: 'timeseries',
        unit: 'ops',
        width: 8,
        height: 8,
        stacked: true,
        min: 0,
        queries: [{ expr: Q.streamTakeoversByVia(), legend: '{{via}}' }],
      },
      {
        title: 'How takeovers continued',
        description: `Re-attached to the upstream's own generation (${METRICS.streamReattaches}, responses mode: exact), answers that started over (${METRICS.streamResets}: a reset event, restart mode against a sampling upstream) and takeovers that could not continue as the mode says and regenerated instead (${METRICS.streamResumeFallbacks}{reason}).`,
        viz: 'timeseries',
        unit: 'ops',
        width: 8,
        height: 8,
        min: 0,
        queries: [
          { expr: Q.streamReattachRate(), legend: 're-attached' },
          { expr: Q.streamResetRate(), legend: 'reset' },
          { expr: Q.streamFallbacksByReason(), legend: 'fallback: {{reason}}' },
        ],
      },
      {
        title: 'Regenerated tokens',
        description: `${METRICS.streamRegeneratedTokens}: tokens an upstream generated again after a takeover in restart mode, compared with the log and not sent: upstream cost a continuing mode would save.`,
        viz: 'timeseries',
        unit: 'none',
        width: 8,
        height: 8,
        min: 0,
        queries: [{ expr: Q.streamRegeneratedTokenRate(), legend: 'tokens/s' }],
      },
      {
        title: 'Streams started by front door',
        description: `${METRICS.streamsStarted}{front_door}: lastcall's own API, OpenAI chat completions, the Responses API, the AI SDK.`,
        viz: 'timeseries',
        unit: 'ops',
        width: 12,
        height: 8,
        stacked: true,
        min: 0,
        queries: [{ expr: Q.streamsStartedByFrontDoor(), legend: '{{front_door}}' }],
      },
      {
        title: 'Stream log write latency (p99)',
        description: `${METRICS.streamLogWriteDuration}: one batched write of every stream's new entries. With STREAM_PERSIST=before-send each token waits for it.`,
        viz: 'timeseries',
        unit: 's',
        width: 12,
        height: 8,
        min: 0,
        queries: [{ expr: Q.streamLogWriteP99(), legend: 'p99' }],
      },
    ],
  },
  {
    title: 'Database: retention and notifications',
    panels: [
      {
        title: 'Rows deleted by retention',
        description: `${METRICS.retentionDeleted}{kind}: finished streams (with their logs) and tasks (with their steps) deleted RETENTION_HOURS after they ended, idempotency keys, and the tombstones that answer 410 for one more period.`,
        viz: 'timeseries',
        unit: 'ops',
        width: 12,
        height: 8,
        stacked: true,
        min: 0,
        queries: [{ expr: Q.retentionDeletedByKind(), legend: '{{kind}}' }],
      },
      {
        title: 'Seconds since the last retention sweep',
        description: `time() − ${METRICS.retentionLastSweep} per replica: sweeps run every quarter of the retention period, at most every 5 minutes. A value climbing far past that means sweeps fail (the replica logs why).`,
        viz: 'timeseries',
        unit: 's',
        width: 12,
        height: 8,
        min: 0,
        queries: [{ expr: Q.retentionSweepAge(), legend: '{{replica}}' }],
      },
      {
        title: 'Database notifications received',
        description: `${METRICS.databaseNotifications}{channel}: what woke followers (lastcall_stream), task event streams (lastcall_task) and the claim loops (lastcall_stream_free, lastcall_task_free). A replica hears of a row only while something in it waits on that row.`,
        viz: 'timeseries',
        unit: 'ops',
        width: 12,
        height: 8,
        stacked: true,
        min: 0,
        queries: [{ expr: Q.databaseNotificationsByChannel(), legend: '{{channel}}' }],
      },
      {
        title: 'Listening connection up',
        description: `${METRICS.databaseListening} per replica: 0 while it reconnects, when waiters look every 250 ms instead of waiting to be told (more queries, no loss).`,
        viz: 'timeseries',
        unit: 'none',
        width: 12,
        height: 8,
        min: 0,
        queries: [{ expr: Q.databaseListeningByReplica(), legend: '{{replica}}' }],
      },
    ],
  },
  {
    title: 'Tasks',
    panels: [
      {
        title: 'Tasks active',
        description: `${METRICS.tasksActive} per replica: tasks holding a lease here.`,
        viz: 'timeseries',
        unit: 'none',
        width: 6,
        height: 8,
        stacked: true,
        min: 0,
        queries: [{ expr: Q.tasksActiveByReplica(), legend: '{{replica}}' }],
      },
      {
        title: 'Task outcomes',
        description: `${METRICS.tasksTotal}{outcome}.`,
        viz: 'timeseries',
        unit: 'ops',
        width: 6,
        height: 8,
        stacked: true,
        min: 0,
        queries: [{ expr: Q.taskOutcomes(), legend: '{{outcome}}' }],
      },
      {
        title: 'Task handoffs and recoveries by via',
        description: `Tasks released at shutdown (${METRICS.taskHandoffs}) and picked up again (${METRICS.tasksRecovered}{via}: a released lease, or an expired one after SIGKILL).`,
        viz: 'timeseries',
        unit: 'ops',
        width: 6,
        height: 8,
        min: 0,
        queries: [
          { expr: Q.taskHandoffs(), legend: 'handed off' },
          { expr: Q.tasksRecoveredByVia(), legend: 'recovered via {{via}}' },
        ],
      },
      {
        title: 'Task step duration (p95)',
        description: `${METRICS.taskStepDuration}: 95th percentile of one step, checkpoint included, by step kind. A drain waits for the current step.`,
        viz: 'timeseries',
        unit: 's',
        width: 6,
        height: 8,
        min: 0,
        queries: [
          {
            expr: Q.taskStepP95(),
            legend: '{{kind}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Embeddings and memory',
    panels: [
      {
        title: 'Embedding model loaded',
        description: `Replicas with the embedding model in memory (sum of ${METRICS.embeddingModelLoaded}); release disposes it.`,
        viz: 'timeseries',
        unit: 'none',
        width: 6,
        height: 8,
        stacked: true,
        min: 0,
        queries: [{ expr: Q.embeddingModelLoadedByReplica(), legend: '{{replica}}' }],
      },
      {
        title: 'Embedding model bytes and memory returned',
        description: `${METRICS.embeddingModelBytes}: the loaded model's size; ${METRICS.embeddingMemoryReturnedBytes}: memory handed back to the OS when it was disposed.`,
        viz: 'timeseries',
        unit: 'bytes',
        width: 6,
        height: 8,
        min: 0,
        queries: [
          { expr: Q.embeddingModelBytes(), legend: 'model {{replica}}' },
          { expr: Q.embeddingMemoryReturned(), legend: 'returned {{replica}}' },
        ],
      },
      {
        title: 'Embeddings in flight',
        description: `${METRICS.embeddingsInFlight} per replica: texts queued or in a running batch.`,
        viz: 'timeseries',
        unit: 'none',
        width: 6,
        height: 8,
        stacked: true,
        min: 0,
        queries: [{ expr: Q.embeddingsInFlightByReplica(), legend: '{{replica}}' }],
      },
      {
        title: 'Process RSS',
        description: `${METRICS.processResidentMemory} of lastcall replicas (joined on replica with ${METRICS.ready}, so other jobs' process metrics stay out).`,
        viz: 'timeseries',
        unit: 'bytes',
        width: 6,
        height: 8,
        min: 0,
        queries: [{ expr: Q.residentMemory(), legend: '{{replica}}' }],
      },
    ],
  },
  {
    // The expressions the PrometheusRule evaluates (dashboards/alerts.ts), drawn as they are:
    // a panel per alert, so what pages and what is seen are one expression.
    title: 'Alerts (what the PrometheusRule evaluates)',
    panels: ALERTS.map((a): PanelSpec => ({
      title: `Alert: ${a.name}`,
      description: `${a.summary}. Fires when ${a.condition}${a.and ? ` (and ${a.and.condition} on the second query)` : ''} for ${a.for}; severity ${a.severity}. Runbook: helm/lastcall/README.md#${a.name.toLowerCase()}.`,
      viz: 'timeseries',
      unit: a.unit,
      width: 6,
      height: 7,
      queries: [
        // Grafana's automatic legend: the labels that differ between the series.
        { expr: a.query, legend: '__auto' },
        ...(a.and ? [{ expr: a.and.query, legend: `guard ${a.and.condition}` }] : []),
      ],
    })),
  },
];

const REF_IDS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function target(q: Query, i: number): prometheus.DataqueryBuilder {
  const t = new prometheus.DataqueryBuilder()
    .expr(q.expr)
    .legendFormat(q.legend)
    .refId(REF_IDS[i] ?? `Q${i}`)
    .datasource(DATASOURCE);
  return q.instant ? t.instant() : t.range();
}

/** What every panel builder of the SDK shares: the fields each panel sets the same way. */
interface PanelBasics<B> {
  id(id: number): B;
  title(title: string): B;
  description(description: string): B;
  datasource(ref: common.DataSourceRef): B;
  unit(unit: string): B;
  span(width: number): B;
  height(height: number): B;
  targets(targets: prometheus.DataqueryBuilder[]): B;
}

function basics<B extends PanelBasics<B>>(builder: B, spec: PanelSpec, id: number): B {
  return builder
    .id(id)
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width)
    .height(spec.height)
    .targets(spec.queries.map(target));
}

function panel(spec: PanelSpec, id: number) {
  switch (spec.viz) {
    case 'stat':
      return basics(new stat.PanelBuilder(), spec, id)
        .graphMode(common.BigValueGraphMode.Area)
        .colorMode(common.BigValueColorMode.Value)
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']));
    case 'statetimeline':
      return basics(new statetimeline.PanelBuilder(), spec, id)
        .mappings(spec.mappings ?? [])
        .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Thresholds))
        .showValue(common.VisibilityMode.Auto)
        .mergeValues(true)
        .rowHeight(0.8)
        .fillOpacity(80)
        .lineWidth(0);
    case 'bargauge':
      return basics(new bargauge.PanelBuilder(), spec, id)
        .min(0)
        .displayMode(common.BarGaugeDisplayMode.Gradient)
        .orientation(common.VizOrientation.Horizontal)
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']));
    case 'timeseries': {
      const b = basics(new timeseries.PanelBuilder(), spec, id)
        .fillOpacity(spec.stacked ? 30 : 10)
        .lineWidth(1)
        .legend(
          new common.VizLegendOptionsBuilder()
            .showLegend(true)
            .displayMode(common.LegendDisplayMode.List)
            .placement(common.LegendPlacement.Bottom),
        )
        .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi));
      if (spec.min !== undefined) b.min(spec.min);
      if (spec.stacked) {
        b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
      }
      return b;
    }
  }
}

/** The dashboard model, ready for JSON.stringify. */
export function buildDashboard(): dashboard.Dashboard {
  const builder = new dashboard.DashboardBuilder(DASHBOARD_TITLE)
    .uid(DASHBOARD_UID)
    .description(
      'GENERATED from dashboards/lastcall.ts by dashboards/generate.ts (make dashboard) — do not edit; ' +
        'edit the source and regenerate. Drain phases, streams, tasks and memory of lastcall replicas.',
    )
    .tags(['lastcall', 'generated'])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .refresh('10s')
    .time({ from: 'now-30m', to: 'now' })
    .timezone('browser')
    .withVariable(new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'));
  // Stable panel ids (Grafana needs them unique): rows and panels numbered in order.
  let id = 0;
  for (const row of ROWS) {
    builder.withRow(new dashboard.RowBuilder(row.title).id(++id));
    for (const p of row.panels) builder.withPanel(panel(p, ++id));
  }
  return builder.build();
}

/**
 * Every PromQL expression on the dashboard, ready to send to Prometheus: Grafana's
 * `$__rate_interval` and `$__range` are replaced by fixed windows. Pass `{ grafana: true }` to
 * get them as the dashboard stores them.
 */
export function dashboardQueries(opts: { grafana?: boolean } = {}): { title: string; expr: string }[] {
  const out: { title: string; expr: string }[] = [];
  for (const row of ROWS) {
    for (const p of row.panels) {
      for (const q of p.queries) {
        const expr = opts.grafana ? q.expr : q.expr.replaceAll(RATE, PROMETHEUS_RATE).replaceAll(RANGE, PROMETHEUS_RANGE);
        out.push({ title: p.title, expr });
      }
    }
  }
  return out;
}

/** The generated file's exact content (stable key order from the builders, 2-space indent). */
export function dashboardJson(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}
