/**
 * lastcall's Prometheus alerts, as typed code. Each alert compares one named expression of
 * dashboards/queries.ts with a threshold — the same expression a dashboard panel shows (row
 * "Alerts"), so what pages and what is drawn cannot drift apart.
 *
 * `npx tsx dashboards/generate.ts` (`make dashboard`) writes them as a plain Prometheus rules
 * file to helm/lastcall/rules/lastcall-alerts.yaml; the chart renders a PrometheusRule from that
 * same file (`metrics.prometheusRule.enabled`) and the local e2e Prometheus loads it. Edit this
 * file, never the YAML; test/chart checks they agree and runs `promtool test rules` on it.
 *
 * Designed so that a clean rolling restart fires nothing: no alert keys on a replica leaving
 * (its series end when its pod goes, and Prometheus marks them stale), on a draining replica's
 * phases, on readiness flipping to 0 during a drain, or on the model being disposed in the
 * release phase; every counter starts at 0 when a replica starts (src/metrics/registry.ts
 * zeroSeries), so increase() sees each step; a counter reset (a restarted container keeps its
 * pod name) counts as no increase.
 */
import { Q } from './queries.js';

export type Severity = 'critical' | 'warning' | 'info';

export interface AlertSpec {
  /** Alert name; its runbook is the README section with this title. */
  readonly name: string;
  readonly severity: Severity;
  /** The named expression (also a dashboard panel's query) the alert compares. */
  readonly query: string;
  /** What makes it fire, appended to the query: `> 0`, `== 0`... */
  readonly condition: string;
  /** An extra guard, and-ed on (e.g. a minimum volume), also built from a named query. */
  readonly and?: { readonly query: string; readonly condition: string };
  readonly for: string;
  readonly keepFiringFor?: string;
  /** Grafana unit of the query's value, for its panel in the dashboard's "Alerts" row. */
  readonly unit: string;
  readonly summary: string;
  readonly description: string;
}

/** Where the generated rules file lives, relative to the repository root (inside the chart). */
export const RULES_PATH = 'helm/lastcall/rules/lastcall-alerts.yaml';
/** The chart README, whose sections are the runbooks (`runbook_url` anchors). */
export const RUNBOOK_BASE = 'https://github.com/lastcall/lastcall/blob/main/helm/lastcall/README.md';
export const RULE_GROUP = 'lastcall';

/** GitHub's anchor of a `### Name` heading. */
export const runbookAnchor = (name: string): string => name.toLowerCase();
export const runbookUrl = (name: string): string => `${RUNBOOK_BASE}#${runbookAnchor(name)}`;

export const ALERTS: readonly AlertSpec[] = [
  {
    name: 'LastcallDrainOverBudget',
    severity: 'warning',
    query: Q.drainOverrunSeconds(),
    // 1 s of slack for scrape latency: a sample's timestamp is when its scrape started.
    condition: '> 1',
    for: '0m',
    keepFiringFor: '5m',
    unit: 's',
    summary: 'A lastcall replica drained for longer than its drain budget',
    description:
      'Replica {{ $labels.replica }} ({{ $labels.namespace }}) was seen in shutdown phases {{ $value | printf "%.0f" }} s longer than ' +
      'lastcall_shutdown_budget_seconds: it broke its promise to exit in time and the kubelet SIGKILLs it once the safety ' +
      'margin is spent too. Its open streams and tasks then resume only after their lease expires.',
  },
  {
    name: 'LastcallShutdownParticipantTimeout',
    severity: 'warning',
    query: Q.participantTimeoutsByReplica(),
    condition: '> 0',
    for: '0m',
    unit: 'none',
    summary: 'A shutdown participant failed, or timed out outside the drain phase',
    description:
      'Replica {{ $labels.replica }}: {{ $value | printf "%.0f" }} shutdown participant(s) of phase {{ $labels.phase }} ended with ' +
      "{{ $labels.outcome }} in the last 10 minutes. The drain went on without them; see the drain report in the pod's " +
      'termination message or its log ("shutdown participant did not finish cleanly").',
  },
  {
    name: 'LastcallStreamsFailing',
    severity: 'critical',
    query: Q.streamFailureRatio(),
    condition: '> 0.05',
    and: { query: Q.streamsFailed(), condition: '>= 3' },
    for: '2m',
    unit: 'percentunit',
    summary: 'More than 5% of lastcall streams end with an error',
    description:
      '{{ $value | humanizePercentage }} of the streams of {{ $labels.job }} ({{ $labels.namespace }}) ended `failed` in the last ' +
      '10 minutes: clients got an `error` event, not a resumable `end`. Handoffs are not failures; this is the upstream ' +
      'failing past its retries or a bug.',
  },
  {
    name: 'LastcallStreamResetsHigh',
    severity: 'warning',
    query: Q.streamResetRatio(),
    condition: '> 0.2',
    for: '0m',
    unit: 'percentunit',
    summary: 'Many stream takeovers regenerate a different answer (reset events)',
    description:
      '{{ $value | humanizePercentage }} of the stream takeovers of {{ $labels.job }} in the last 15 minutes sent a `reset`: ' +
      'the upstream could not continue the persisted answer, so clients saw their text replaced.',
  },
  {
    name: 'LastcallLeaseExpired',
    severity: 'warning',
    query: Q.leaseExpiries(),
    condition: '> 0',
    for: '0m',
    keepFiringFor: '2m',
    unit: 'none',
    summary: 'A lastcall replica died without handing off its work',
    description:
      '{{ $value | printf "%.0f" }} task(s) or stream generation(s) of {{ $labels.job }} ({{ $labels.namespace }}) were picked up ' +
      'after their lease expired in the last 5 minutes instead of being handed off: a replica was SIGKILLed, OOM-killed, ' +
      'lost with its node or hung. Nothing was lost, but clients waited a lease (TASK_LEASE_SECONDS) for it.',
  },
  {
    name: 'LastcallEmbeddingModelUnavailable',
    severity: 'critical',
    query: Q.embeddingModelLoadedWhileServing(),
    condition: '== 0',
    for: '2m',
    unit: 'none',
    summary: 'A serving lastcall replica has no embedding model loaded',
    description:
      'Replica {{ $labels.replica }} is serving but lastcall_embedding_model_loaded is 0: its embedding, document and search ' +
      'requests fail with 503 model_unavailable.',
  },
  {
    name: 'LastcallReplicaNotReady',
    severity: 'warning',
    query: Q.readyBeforeDrain(),
    condition: '== 0',
    // Longer than the startup probe allows by default (90 x 2 s) and than any replica of a
    // rollout is unready: a draining replica is not counted (it is unready by design).
    for: '5m',
    unit: 'none',
    summary: 'A lastcall replica has not become ready for 5 minutes',
    description:
      'Replica {{ $labels.replica }} has been starting (not ready, not draining) for more than 5 minutes: the model does not ' +
      'load, the database or its migrations do not answer, or the container keeps restarting.',
  },
  {
    name: 'LastcallDatabaseErrors',
    severity: 'warning',
    query: Q.databaseErrors(),
    condition: '> 0',
    // Errors in every 1-minute window for 5 minutes: a sustained problem. A PostgreSQL restart
    // or failover costs a few seconds of errors, which lastcall rides out by design.
    for: '5m',
    unit: 'none',
    summary: 'lastcall keeps getting database errors',
    description:
      '{{ $labels.job }} ({{ $labels.namespace }}) has had database errors of kind {{ $labels.kind }} in every minute for 5 ' +
      'minutes ({{ $value | printf "%.0f" }} in the last one): unavailable (no connection), timeout (a query or the pool wait) or ' +
      'query (a statement refused).',
  },
];

/** The PromQL an alert evaluates. */
export function alertExpr(a: AlertSpec): string {
  const main = `(${a.query}) ${a.condition}`;
  return a.and ? `${main}\nand\n(${a.and.query}) ${a.and.condition}` : main;
}

/** YAML double-quoted scalar (JSON's escaping is valid YAML). */
const q = (s: string): string => JSON.stringify(s);

/** The generated rules file's exact content. */
export function rulesYaml(): string {
  const lines = [
    '# GENERATED from dashboards/alerts.ts by dashboards/generate.ts (make dashboard) — do not edit.',
    "# A plain Prometheus rules file: load it with rule_files, or enable the chart's PrometheusRule",
    '# (metrics.prometheusRule.enabled), which renders this same file. Runbooks: helm/lastcall/README.md.',
    'groups:',
    `  - name: ${RULE_GROUP}`,
    '    rules:',
  ];
  for (const a of ALERTS) {
    lines.push(`      - alert: ${a.name}`);
    lines.push('        expr: |-');
    for (const l of alertExpr(a).split('\n')) lines.push(`          ${l}`);
    lines.push(`        for: ${a.for}`);
    if (a.keepFiringFor) lines.push(`        keep_firing_for: ${a.keepFiringFor}`);
    lines.push('        labels:');
    lines.push(`          severity: ${a.severity}`);
    lines.push('        annotations:');
    lines.push(`          summary: ${q(a.summary)}`);
    lines.push(`          description: ${q(a.description)}`);
    lines.push(`          runbook_url: ${q(runbookUrl(a.name))}`);
  }
  return `${lines.join('\n')}\n`;
}
