/**
 * Every named PromQL expression of lastcall, in one place: the Grafana dashboard's panels
 * (dashboards/lastcall.ts) and the Prometheus alerts (dashboards/alerts.ts) are both built from
 * these functions, so an alert always evaluates exactly what a panel shows and neither can drift.
 *
 * Metric names come from src/metrics/names.ts. Every lastcall series carries the registry's
 * default label `replica` (REPLICA_ID: the pod name in Kubernetes, a process name locally).
 * Fleet-level expressions group by `namespace, job` as well, so two releases scraped by one
 * Prometheus are never summed together (the ServiceMonitor's job is the release's metrics
 * Service; locally `namespace` is absent and grouping by it is a no-op).
 */
import { PHASES } from '../src/drain/phases.js';
import { METRICS } from '../src/metrics/names.js';

/** Grafana's rate window; `dashboardQueries()` swaps it for a fixed window Prometheus accepts. */
export const RATE = '$__rate_interval';
/** Grafana's "whole time range" variable. */
export const RANGE = '$__range';

/** Labels that identify one lastcall deployment (release) in a shared Prometheus. */
export const FLEET = 'namespace, job';
/** ...and one replica of it. */
export const PER_REPLICA = `${FLEET}, replica`;

/**
 * The lifecycle states `lastcall_shutdown_phase{phase}` reports (1 for the current one), in
 * order: before the drain, the contract's phases, after exit.
 */
export const LIFECYCLE_STATES = ['starting', 'serving', ...PHASES, 'exited'] as const;
/** The states of a replica that received SIGTERM (or started a drain itself) and has not exited. */
const DRAIN_STATES = PHASES.join('|');

const P = METRICS.shutdownPhase;

export const sumRate = (metric: string, window: string, by?: string): string =>
  by ? `sum by (${by}) (rate(${metric}[${window}]))` : `sum(rate(${metric}[${window}]))`;

/**
 * Sample timestamps (seconds) at which a replica reported a drain state, as a subquery over
 * `range` at resolution `step`. Only real sample timestamps are used (`timestamp()` of a plain
 * selector), never evaluation times, so a replica whose series ends (its pod is gone: Prometheus
 * marks the series stale) is not stretched to the next scrape.
 */
const drainSampleTimes = (range: string, step: string): string =>
  `(timestamp(${P}{phase=~"${DRAIN_STATES}"}) and ${P}{phase=~"${DRAIN_STATES}"} == 1)[${range}:${step}]`;

export const Q = {
  // --- Overview -----------------------------------------------------------------------------
  readyReplicas: (): string => `sum(${METRICS.ready})`,
  readyByReplica: (): string => `sum by (replica) (${METRICS.ready})`,

  // --- Drain --------------------------------------------------------------------------------
  /** `max by (replica)` of "position of the current state" (1-based): 0 for states not current. */
  lifecycleState: (): string =>
    `max by (replica) (${LIFECYCLE_STATES.map((s, i) => `${P}{phase="${s}"} * ${i + 1}`).join(' or ')})`,
  phaseDurations: (range = RANGE): string => `max by (phase) (max_over_time(${METRICS.shutdownPhaseDuration}[${range}]))`,
  budgetByReplica: (): string => `max by (replica) (${METRICS.shutdownBudget})`,
  participantTimeouts: (window = RATE): string =>
    `sum by (phase, outcome) (increase(${METRICS.shutdownParticipantTimeouts}[${window}]))`,

  // --- Requests and streams -----------------------------------------------------------------
  inFlightByReplica: (): string => `sum by (replica) (${METRICS.httpInFlight})`,
  rejectedByReason: (window = RATE): string => sumRate(METRICS.httpRejected, window, 'reason'),
  streamsActiveByReplica: (): string => `sum by (replica) (${METRICS.streamsActive})`,
  streamOutcomes: (window = RATE): string => sumRate(METRICS.streamsTotal, window, 'outcome'),
  streamHandoffs: (window = RATE): string => sumRate(METRICS.streamHandoffs, window),
  streamResumes: (window = RATE): string => sumRate(METRICS.streamResumes, window),
  streamsStartedByFrontDoor: (window = RATE): string => sumRate(METRICS.streamsStarted, window, 'front_door'),
  streamLogWriteP99: (window = RATE): string =>
    `histogram_quantile(0.99, sum by (le) (rate(${METRICS.streamLogWriteDuration}_bucket[${window}])))`,

  // --- Stream takeovers: how each resume mode continued -------------------------------------
  streamTakeoversByVia: (window = RATE): string => sumRate(METRICS.streamTakeovers, window, 'via'),
  streamReattachRate: (window = RATE): string => sumRate(METRICS.streamReattaches, window),
  streamResetRate: (window = RATE): string => sumRate(METRICS.streamResets, window),
  streamFallbacksByReason: (window = RATE): string => sumRate(METRICS.streamResumeFallbacks, window, 'reason'),
  streamRegeneratedTokenRate: (window = RATE): string => sumRate(METRICS.streamRegeneratedTokens, window),

  // --- Tasks --------------------------------------------------------------------------------
  tasksActiveByReplica: (): string => `sum by (replica) (${METRICS.tasksActive})`,
  taskOutcomes: (window = RATE): string => sumRate(METRICS.tasksTotal, window, 'outcome'),
  taskHandoffs: (window = RATE): string => sumRate(METRICS.taskHandoffs, window),
  tasksRecoveredByVia: (window = RATE): string => sumRate(METRICS.tasksRecovered, window, 'via'),
  taskStepP95: (window = RATE): string =>
    `histogram_quantile(0.95, sum by (le, kind) (rate(${METRICS.taskStepDuration}_bucket[${window}])))`,

  // --- Retention -----------------------------------------------------------------------------
  retentionDeletedByKind: (window = RATE): string => sumRate(METRICS.retentionDeleted, window, 'kind'),
  retentionSweepAge: (): string => `time() - max by (replica) (${METRICS.retentionLastSweep})`,
  databaseNotificationsByChannel: (window = RATE): string => sumRate(METRICS.databaseNotifications, window, 'channel'),
  databaseListeningByReplica: (): string => `min by (replica) (${METRICS.databaseListening})`,

  // --- Embeddings and memory ----------------------------------------------------------------
  embeddingModelLoadedByReplica: (): string => `sum by (replica) (${METRICS.embeddingModelLoaded})`,
  embeddingModelBytes: (): string => `max by (replica) (${METRICS.embeddingModelBytes})`,
  embeddingMemoryReturned: (): string => `max by (replica) (${METRICS.embeddingMemoryReturnedBytes})`,
  embeddingsInFlightByReplica: (): string => `sum by (replica) (${METRICS.embeddingsInFlight})`,
  /** Joined on replica with lastcall_ready, so other jobs' process metrics stay out. */
  residentMemory: (): string => `max by (replica) (${METRICS.processResidentMemory} and on (replica) ${METRICS.ready})`,

  // --- What the alerts evaluate (dashboards/alerts.ts compares these with a threshold) --------
  /**
   * Seconds a replica was seen draining beyond its drain budget: the span between its first and
   * last scraped drain-state sample over `range`, minus lastcall_shutdown_budget_seconds. The app
   * exits before the budget ends, so a clean drain's samples all fall inside [SIGTERM, SIGTERM +
   * budget] and this is <= 0 (up to the scrape's own latency); above 0 the replica overran its
   * promise and the kubelet SIGKILLs it once the safety margin is gone too. `step` bounds the
   * resolution: a coarse one can only under-estimate (miss an overrun), never invent one.
   */
  drainOverrunSeconds: (range = '10m', step = '5s'): string =>
    `(max by (${PER_REPLICA}) (max_over_time(${drainSampleTimes(range, step)}))` +
    ` - min by (${PER_REPLICA}) (min_over_time(${drainSampleTimes(range, step)})))` +
    ` - on (${PER_REPLICA}) max by (${PER_REPLICA}) (max_over_time(${METRICS.shutdownBudget}[${range}]))`,
  /**
   * Shutdown participants that failed, or were abandoned at their deadline in a phase other than
   * `drain`, per replica and phase. A `drain` participant reaching its deadline is the designed
   * path for work longer than the budget (streams and requests still open are handed off in the
   * next phase, `handoff`), so drain timeouts are left out; a failure there is not.
   */
  participantTimeoutsByReplica: (window = '10m'): string =>
    `sum by (${PER_REPLICA}, phase, outcome) (increase(${METRICS.shutdownParticipantTimeouts}{outcome="error"}[${window}])` +
    ` or increase(${METRICS.shutdownParticipantTimeouts}{phase!="drain"}[${window}]))`,
  /** Streams that ended `failed` (an error event, not resumable), and all streams ended. */
  streamsFailed: (window = '10m'): string => `sum by (${FLEET}) (increase(${METRICS.streamsTotal}{outcome="failed"}[${window}]))`,
  streamFailureRatio: (window = '10m'): string =>
    `${Q.streamsFailed(window)} / sum by (${FLEET}) (increase(${METRICS.streamsTotal}[${window}]))`,
  /** Takeovers whose regenerated answer differed (a `reset` event), per takeover. */
  streamResets: (window = '15m'): string => `sum by (${FLEET}) (increase(${METRICS.streamResets}[${window}]))`,
  streamResetRatio: (window = '15m'): string =>
    `${Q.streamResets(window)} / sum by (${FLEET}) (increase(${METRICS.streamTakeovers}[${window}]))`,
  /**
   * Work picked up after its lease expired instead of being handed off: a replica died without
   * draining (SIGKILL, OOM kill, node loss, a hung process). Tasks and stream generations.
   */
  leaseExpiries: (window = '5m'): string =>
    `sum by (${FLEET}) (increase(${METRICS.tasksRecovered}{via="expiry"}[${window}]))` +
    ` + sum by (${FLEET}) (increase(${METRICS.streamTakeovers}{via="expiry"}[${window}]))`,
  /**
   * lastcall_embedding_model_loaded of replicas that are serving (not starting, not draining:
   * the release phase disposes the model by design): 1 loaded, 0 missing.
   */
  embeddingModelLoadedWhileServing: (): string =>
    `max by (${PER_REPLICA}) (${METRICS.embeddingModelLoaded})` +
    ` and on (${PER_REPLICA}) max by (${PER_REPLICA}) (${P}{phase="serving"}) == 1`,
  /** lastcall_ready of replicas starting or serving (a draining replica is not ready by design). */
  readyBeforeDrain: (): string =>
    `max by (${PER_REPLICA}) (${METRICS.ready})` +
    ` and on (${PER_REPLICA}) max by (${PER_REPLICA}) (${P}{phase=~"starting|serving"}) == 1`,
  databaseErrors: (window = '1m'): string => `sum by (${FLEET}, kind) (increase(${METRICS.databaseErrors}[${window}]))`,
} as const;

export type QueryName = keyof typeof Q;
