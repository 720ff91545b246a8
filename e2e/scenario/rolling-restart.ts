import { randomBytes } from 'node:crypto';
import type { Driver, Termination } from './driver.js';
import { alertsDuring, prometheusFindings, type AlertSeen, type PrometheusFindings } from './prometheus.js';
import { EmbeddingLoad, ResponsesLoad, StreamLoad, TaskLoad, type StreamRecord, type TaskRecord } from './traffic.js';
import { judgeAgainstUpstream, type ModeFigures } from './upstream-modes.js';

/**
 * The e2e scenario, one module for both drivers: traffic through the Service while pods are
 * replaced, then assertions that no client noticed. Times scale with the chart's timings (grace
 * period, drain budget, token rate); the ratios — streams several times longer than the drain
 * budget — never change.
 */
export interface ScenarioOptions {
  /** Streams kept open at once during the rolling restarts. */
  readonly streams: number;
  readonly tasks: number;
  readonly restarts: number;
  readonly progress: (line: string) => void;
}

export interface CaseResult {
  readonly name: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly failures: string[];
  readonly facts: Record<string, unknown>;
  readonly streams: StreamRecord[];
  readonly tasks: TaskRecord[];
  readonly terminations: Termination[];
  readonly prometheus?: PrometheusFindings;
  /** The chart's alerts Prometheus had pending or firing during the case (drivers with Prometheus). */
  readonly alerts?: AlertSeen[];
}

/** What a case promises about the chart's alerts (helm/lastcall/rules/lastcall-alerts.yaml). */
interface AlertExpectation {
  /** No alert may start firing during the case (a clean rollout or scale-down is silent). */
  readonly none?: boolean;
  /** These alerts must fire during the case. */
  readonly fire?: readonly string[];
}

export interface ScenarioCase {
  /** A sentence: what must hold. */
  readonly name: string;
  /** The Service's own errors (refused or cut by a dead pod) are part of the fault, not failures. */
  readonly platformErrorsExpected?: boolean;
  /** Drivers that cannot inject this fault skip the case. */
  readonly needs?: (d: Driver) => boolean;
  readonly alerts?: AlertExpectation;
  run(d: Driver, o: ScenarioOptions, tag: string): Promise<Omit<CaseResult, 'name' | 'startedAt' | 'endedAt' | 'terminations'>>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Stream lengths: from one second of tokens up to four drain budgets' worth. */
export function streamTokens(d: Driver): { minTokens: number; maxTokens: number } {
  const t = d.timings;
  return { minTokens: Math.ceil(t.tokensPerSecond), maxTokens: Math.ceil(t.tokensPerSecond * t.drainBudgetSeconds * 4) };
}

const MAX_LISTED = 15;
export function listed(prefix: string, items: string[]): string[] {
  if (items.length === 0) return [];
  const head = items.slice(0, MAX_LISTED).map((x) => `${prefix}: ${x}`);
  return items.length > MAX_LISTED ? [...head, `${prefix}: … and ${items.length - MAX_LISTED} more`] : head;
}

/** Every stream ended exactly as the reference, with no error event and no failure. */
export function streamFailures(records: readonly StreamRecord[], what = 'stream'): string[] {
  return listed(
    what,
    records.flatMap((r) =>
      r.failure
        ? [`#${r.index} (${r.streamId ?? 'no id'}): ${r.failure}`]
        : r.errorEvent
          ? [`#${r.index} (${r.streamId}): error event: ${r.errorEvent}`]
          : [],
    ),
  );
}

/** Steps 0..n-1 (n > 0), each recorded exactly once. */
export const exactlyOnce = (steps: readonly number[]) =>
  steps.length > 0 && steps.length === new Set(steps).size && steps.every((s, i) => s === i);

/** Every task completed, and its steps are 0..n-1, each recorded exactly once. */
export async function taskFailures(d: Driver, load: TaskLoad, timeoutMs: number): Promise<string[]> {
  await load.awaitAll(timeoutMs);
  const out = [...load.failures];
  const stored = await d.taskSteps(load.records.map((t) => t.id));
  for (const t of load.records) {
    if (t.failure) out.push(`${t.id}: ${t.failure}`);
    else if (t.status !== 'completed') out.push(`${t.id}: ended ${t.status}`);
    const steps = stored.get(t.id) ?? [];
    if (!exactlyOnce(steps)) out.push(`${t.id}: steps recorded ${JSON.stringify(steps)}, expected 0..n-1 once each`);
    else if (steps.length !== t.steps.length)
      out.push(`${t.id}: API shows ${t.steps.length} steps, the database ${steps.length}`);
  }
  return listed('task', out);
}

/** Every gracefully deleted pod exited 0 on its own, inside its grace period. */
function terminationFailures(ts: readonly Termination[]): string[] {
  return ts.flatMap((t) => {
    if (t.cause !== 'delete') return [];
    const problems: string[] = [];
    if (t.killedAtDeadline || t.signal === 'SIGKILL') problems.push('was SIGKILLed at the end of its grace period');
    else if (t.exitCode !== 0) problems.push(`exited ${t.exitCode ?? t.signal}`);
    if (t.finishedAt > t.deletedAt + t.gracePeriodSeconds * 1000)
      problems.push(`finished ${t.finishedAt - t.deletedAt} ms after deletion (grace ${t.gracePeriodSeconds} s)`);
    if (!t.message) problems.push('left no drain report as its termination message');
    return problems.map((p) => `pod ${t.pod} ${p}`);
  });
}

/** How long terminated pods took from SIGTERM (after preStop) to exit, against their budget. */
function exitFacts(ts: readonly Termination[], d: Driver): Record<string, number> {
  const deleted = ts.filter((t) => t.cause === 'delete');
  const exits = deleted.map((t) => t.finishedAt - t.deletedAt - d.timings.preStopSeconds * 1000);
  const killed = ts.length - deleted.length;
  if (exits.length === 0) return killed > 0 ? { podsSigkilledByFault: killed } : {};
  return {
    podsTerminated: exits.length,
    podsExited0: deleted.filter((t) => t.exitCode === 0 && !t.killedAtDeadline).length,
    podsSigkilledAtDeadline: deleted.filter((t) => t.killedAtDeadline).length,
    ...(killed > 0 ? { podsSigkilledByFault: killed } : {}),
    maxSigtermToExitMs: Math.max(...exits),
    drainBudgetMs: d.timings.drainBudgetSeconds * 1000,
  };
}

function serviceFailures(d: Driver, before: { failed: number; cut: number } | undefined): string[] {
  if (!d.serviceErrors || !before) return [];
  const now = d.serviceErrors();
  const failed = now.failed - before.failed;
  const cut = now.cut - before.cut;
  return [
    ...(failed > 0 ? [`the Service answered ${failed} request(s) itself with 502/503 (no endpoint could take them)`] : []),
    ...(cut > 0 ? [`the Service saw ${cut} response(s) cut by their pod`] : []),
  ];
}

export function streamFacts(records: readonly StreamRecord[], d: Driver) {
  const longerThanBudget = records.filter((r) => r.maxTokens / d.timings.tokensPerSecond > d.timings.drainBudgetSeconds);
  return {
    streams: records.length,
    streamsLongerThanDrainBudget: longerThanBudget.length,
    streamsHandedOff: records.filter((r) => r.handoffsAt.length > 0).length,
    streamsResumed: records.filter((r) => r.resumes > 0).length,
    resumes: records.reduce((n, r) => n + r.resumes, 0),
    retried503: records.reduce((n, r) => n + r.retried503, 0),
    exact: records.filter((r) => r.exact).length,
  };
}

/** The Responses-API clients: how many, how many resumed with starting_after (and how often), how many exact. */
function responseFacts(records: readonly StreamRecord[], d: Driver) {
  return {
    responses: records.length,
    longerThanDrainBudget: records.filter((r) => r.maxTokens / d.timings.tokensPerSecond > d.timings.drainBudgetSeconds).length,
    resumed: records.filter((r) => r.resumes > 0).length,
    resumes: records.reduce((n, r) => n + r.resumes, 0),
    exact: records.filter((r) => r.exact).length,
  };
}

export async function waitForScrape(d: Driver): Promise<void> {
  // Two scrape intervals, so the last pods' final counters are in.
  if (d.prometheusUrl) await sleep(2_500);
}

const rollingRestarts: ScenarioCase = {
  name: 'streams, tasks and embeddings through the Service survive consecutive rolling restarts with no client noticing',
  alerts: { none: true },
  async run(d, o, tag) {
    const { minTokens, maxTokens } = streamTokens(d);
    const streams = new StreamLoad(d.serviceUrl, d.apiKey, { tag, concurrency: o.streams, minTokens, maxTokens });
    // AI SDK clients alongside: the `ai` package's transport on /v1/ai-sdk/chat, reconnecting after every handoff.
    const aiSdk = new StreamLoad(d.serviceUrl, d.apiKey, {
      tag,
      concurrency: Math.max(5, Math.round(o.streams / 10)),
      minTokens,
      maxTokens,
      via: 'ai-sdk',
    });
    const tasks = new TaskLoad(d.serviceUrl, d.apiKey, tag);
    const embeddings = new EmbeddingLoad(d.serviceUrl, d.apiKey, tag);
    // OpenAI Responses-API clients beside them: background + stream, resumed with starting_after.
    const responses = new ResponsesLoad(d.serviceUrl, d.apiKey, {
      tag,
      concurrency: Math.max(2, Math.round(o.streams / 10)),
      minTokens,
      maxTokens,
    });
    const from = Date.now();
    streams.start();
    responses.start();
    aiSdk.start();
    embeddings.start();
    await tasks.submit(o.tasks);
    // Let the longest streams get well under way before the first pod goes.
    await sleep(d.timings.drainBudgetSeconds * 1000);
    for (let i = 1; i <= o.restarts; i++) {
      const t = Date.now();
      await d.rolloutRestart();
      o.progress(
        `rollout ${i}/${o.restarts} complete in ${((Date.now() - t) / 1000).toFixed(1)} s; ${streams.open} streams open, ${streams.records.length} started; ${aiSdk.open} AI SDK chats open`,
      );
    }
    await Promise.all([streams.stop(), responses.stop(), aiSdk.stop(), embeddings.stop()]);
    o.progress(
      `streams done: ${streams.records.length}, responses ${responses.records.length}, AI SDK chats ${aiSdk.records.length}; ` +
        `embedding rounds ${embeddings.rounds}; waiting for tasks`,
    );
    const failures = [
      ...streamFailures(streams.records),
      ...streamFailures(responses.records, 'response'),
      ...streamFailures(aiSdk.records, 'AI SDK chat'),
      ...listed('embeddings', embeddings.failures),
      ...(await taskFailures(d, tasks, 120_000)),
    ];
    const ai = streamFacts(aiSdk.records, d);
    const facts = {
      ...streamFacts(streams.records, d),
      responses: responseFacts(responses.records, d),
      aiSdkChats: ai.streams,
      aiSdkChatsHandedOff: ai.streamsHandedOff,
      aiSdkReconnects: ai.resumes,
      aiSdkExact: ai.exact,
      tasks: tasks.records.length,
      embeddingRounds: embeddings.rounds,
      rollouts: o.restarts,
    };
    if (facts.aiSdkChatsHandedOff === 0)
      failures.push('no AI SDK chat was handed off during the rollouts: its resume path went untested');
    if (facts.streamsLongerThanDrainBudget === 0)
      failures.push('no stream was longer than the drain budget: the scenario did not test handoff');
    if (facts.resumes === 0) failures.push('no stream was handed off and resumed during the rollouts');
    if (facts.responses.resumed === 0) failures.push('no Responses-API client resumed with starting_after during the rollouts');
    await d.settle();
    await waitForScrape(d);
    let prometheus: PrometheusFindings | undefined;
    if (d.prometheusUrl) {
      prometheus = await prometheusFindings(d.prometheusUrl, from, Date.now());
      // drain lasts seconds; exit is held for a final scrape (FINAL_SCRAPE_WAIT_SECONDS). The
      // sub-second phases in between show only when a scrape happens to land in them.
      for (const phase of ['drain', 'exit'] as const) {
        if (!prometheus.phasesSeen[phase]) failures.push(`prometheus: no replica was ever scraped in phase ${phase}`);
      }
      if (!prometheus.streamHandoffs) failures.push('prometheus: lastcall_stream_handoffs_total never rose');
      if (!prometheus.streamResumes) failures.push('prometheus: lastcall_stream_resumes_total never rose');
      failures.push(...listed('dashboard query without data', prometheus.emptyDashboardQueries));
    }
    return {
      failures,
      facts,
      streams: [...streams.records, ...aiSdk.records],
      tasks: tasks.records,
      ...(prometheus ? { prometheus } : {}),
    };
  },
};

const scaleDown: ScenarioCase = {
  name: 'scale down 3 → 1 under load loses no stream: the removed replicas drain and hand off like at any SIGTERM',
  alerts: { none: true },
  async run(d, o, tag) {
    const before = (await d.pods()).filter((p) => !p.terminating).length;
    const { minTokens, maxTokens } = streamTokens(d);
    const concurrency = Math.max(10, Math.round(o.streams / 4));
    // Streams up to four drain budgets long: the removed replicas must hand most of theirs off.
    const streams = new StreamLoad(d.serviceUrl, d.apiKey, {
      tag,
      concurrency,
      minTokens: Math.max(minTokens, Math.round(maxTokens / 2)),
      maxTokens,
    });
    const tasks = new TaskLoad(d.serviceUrl, d.apiKey, tag);
    const batch = streams.runBatch(concurrency * 2);
    await tasks.submit(Math.max(5, Math.round(o.tasks / 5)));
    await sleep(d.timings.drainBudgetSeconds * 500);
    const t = Date.now();
    await d.scaleTo(1);
    o.progress(`scaled ${before} → 1 in ${((Date.now() - t) / 1000).toFixed(1)} s; ${streams.open} streams open`);
    await batch;
    const failures = [...streamFailures(streams.records), ...(await taskFailures(d, tasks, 120_000))];
    // Put the replicas back for the cases that follow.
    await d.scaleTo(before);
    await d.settle();
    await waitForScrape(d);
    const facts = {
      ...streamFacts(streams.records, d),
      lost: streams.records.filter((r) => r.failure !== undefined || r.errorEvent !== undefined).length,
      tasks: tasks.records.length,
      scaledFrom: before,
      scaledTo: 1,
      restoredTo: before,
    };
    if (before < 2) failures.push(`the Deployment had ${before} replica(s): nothing to scale down`);
    if (facts.streamsHandedOff === 0)
      failures.push('no stream was handed off by the replicas scaled away: the case did not test the drain');
    return { failures, facts, streams: streams.records, tasks: tasks.records };
  },
};

/** A batch of long streams and some tasks, with `fault` injected once they are under way. */
async function faultCase(d: Driver, o: ScenarioOptions, tag: string, fault: () => Promise<string>) {
  const { maxTokens } = streamTokens(d);
  const streams = new StreamLoad(d.serviceUrl, d.apiKey, {
    tag,
    concurrency: Math.max(10, Math.round(o.streams / 4)),
    minTokens: Math.round(maxTokens / 2),
    maxTokens,
  });
  const tasks = new TaskLoad(d.serviceUrl, d.apiKey, tag);
  const batch = streams.runBatch(Math.max(10, Math.round(o.streams / 4)));
  await tasks.submit(Math.max(5, Math.round(o.tasks / 5)));
  await sleep(d.timings.drainBudgetSeconds * 500);
  o.progress(await fault());
  await batch;
  const failures = [...streamFailures(streams.records), ...(await taskFailures(d, tasks, 120_000))];
  await d.settle();
  return {
    failures,
    facts: { ...streamFacts(streams.records, d), tasks: tasks.records.length },
    streams: streams.records,
    tasks: tasks.records,
  };
}

const sigkill: ScenarioCase = {
  name: 'a replica killed with SIGKILL mid-run loses no stream and no task: they resume on another replica once the lease expires',
  // Until the Service drops the dead pod's endpoint, it cuts its streams and refuses connections
  // to it: the race a real cluster has too. Cut streams must resume; refused requests are retried.
  platformErrorsExpected: true,
  // The killed replica's tasks and stream generations are taken over once their lease expires.
  alerts: { fire: ['LastcallLeaseExpired'] },
  async run(d, o, tag) {
    let victim = '';
    const r = await faultCase(d, o, tag, async () => {
      victim = await d.killPod();
      return `killed ${victim} with SIGKILL`;
    });
    const failures = [...r.failures];
    if (r.facts.resumes === 0) failures.push(`no stream resumed after killing ${victim}: the killed replica served none?`);
    return { ...r, failures };
  },
};

const databaseRestart: ScenarioCase = {
  name: 'a PostgreSQL restart mid-run loses nothing: streams and tasks finish exactly',
  needs: (d) => !!d.restartDatabase,
  async run(d, o, tag) {
    return faultCase(d, o, tag, async () => {
      const t = Date.now();
      await d.restartDatabase!();
      return `database restarted in ${((Date.now() - t) / 1000).toFixed(1)} s`;
    });
  },
};

const upstreamFaults: ScenarioCase = {
  name: 'upstream errors mid-stream are retried into exact streams, and a stream whose upstream keeps failing ends with a clear error event, never a hang',
  needs: (d) => !!d.setUpstreamFaults,
  async run(d, o, tag) {
    const after = 5;
    const noHang = AbortSignal.timeout(60_000);
    const client = { signal: noHang };
    // Every 5th upstream completion breaks after 5 tokens: lastcall continues it from the
    // persisted prefix, so every client still gets the exact text.
    const sometimes = new StreamLoad(d.serviceUrl, d.apiKey, {
      tag: `${tag}-a`,
      concurrency: 10,
      minTokens: after * 4,
      maxTokens: after * 8,
      client,
    });
    // Every upstream completion breaks: the retries run out and the stream must end with an error.
    const always = new StreamLoad(d.serviceUrl, d.apiKey, {
      tag: `${tag}-b`,
      concurrency: 5,
      minTokens: after * 10,
      maxTokens: after * 12,
      client,
    });
    try {
      await d.setUpstreamFaults!({ failEveryNthStream: 5, failAfterTokens: after });
      await sometimes.runBatch(30);
      await d.setUpstreamFaults!({ failEveryNthStream: 1, failAfterTokens: after });
      await always.runBatch(5);
    } finally {
      await d.setUpstreamFaults!({ failEveryNthStream: 0, failAfterTokens: after });
    }
    const failures = streamFailures(sometimes.records);
    for (const r of always.records) {
      if (r.failure) failures.push(`stream #${r.index} (upstream always failing): ${r.failure}`);
      else if (r.errorEvent === undefined)
        failures.push(`stream #${r.index} (upstream always failing) ended without an error event`);
      else if (r.prefixTokens === undefined || r.prefixTokens < after)
        failures.push(
          `stream #${r.index} errored after ${r.prefixTokens} reference tokens: not an exact prefix of at least the ${after} the upstream sent`,
        );
    }
    const facts = {
      streams: sometimes.records.length,
      exact: sometimes.records.filter((r) => r.exact).length,
      alwaysFailing: always.records.length,
      endedWithErrorEvent: always.records.filter((r) => r.errorEvent !== undefined).length,
      tokensBeforeError: always.records.map((r) => r.prefixTokens),
    };
    return { failures, facts, streams: [...sometimes.records, ...always.records], tasks: [] };
  },
};

/** Streams through one rolling restart: a batch under way when it starts, all ended when this resolves. */
export async function streamsThroughRollout(d: Driver, o: ScenarioOptions, tag: string, verify: 'reference' | 'upstream') {
  const { minTokens, maxTokens } = streamTokens(d);
  const concurrency = Math.max(10, Math.round(o.streams / 4));
  const streams = new StreamLoad(d.serviceUrl, d.apiKey, { tag, concurrency, minTokens, maxTokens, verify });
  const batch = streams.runBatch(concurrency);
  await sleep(d.timings.drainBudgetSeconds * 500);
  await d.rolloutRestart();
  await batch;
  return streams.records;
}

const upstreamModes: ScenarioCase = {
  name: 'against a sampling provider (OpenAI, emulated) rolling restarts leave every stream one answer the provider gave: exact in responses mode, after one reset in restart mode; and exact against the dev upstream',
  needs: (d) => !!d.useUpstream,
  // Restart mode against a sampling model resets every takeover: the alert that says so must fire.
  alerts: { fire: ['LastcallStreamResetsHigh'] },
  async run(d, o, tag) {
    const { minTokens, maxTokens } = streamTokens(d);
    const modes: Record<string, ModeFigures | Record<string, number>> = {};
    const failures: string[] = [];
    const all: StreamRecord[] = [];
    for (const resumeMode of ['responses', 'restart'] as const) {
      await d.useUpstream!({ kind: 'emulator', resumeMode, minTokens, maxTokens });
      await d.emulator!.reset();
      const records = await streamsThroughRollout(d, o, `${tag}-${resumeMode}`, 'upstream');
      const figures = judgeAgainstUpstream(resumeMode, records, await d.emulator!.generations());
      modes[resumeMode] = { ...figures, failures: figures.failures.length };
      failures.push(...listed(resumeMode, figures.failures));
      if (figures.handedOff === 0) failures.push(`${resumeMode}: no stream was handed off during the rollout`);
      if (resumeMode === 'restart' && figures.resets === 0)
        failures.push('restart: no reset (did the sampling upstream continue?)');
      o.progress(`${resumeMode}: ${JSON.stringify(modes[resumeMode])}`);
      all.push(...records);
    }
    // Back to the dev upstream (the other cases' reference), through the same kind of rollout.
    await d.useUpstream!({ kind: 'dev' });
    const dev = await streamsThroughRollout(d, o, `${tag}-dev`, 'reference');
    const devFailures = streamFailures(dev);
    modes.dev = {
      streams: dev.length,
      handedOff: dev.filter((r) => r.handoffsAt.length > 0).length,
      exact: dev.filter((r) => r.exact).length,
      oneAnswer: dev.filter((r) => r.exact).length,
      resets: dev.reduce((n, r) => n + r.resets, 0),
    };
    o.progress(`dev: ${JSON.stringify(modes.dev)}`);
    failures.push(...devFailures);
    await d.settle();
    return { failures, facts: { modes }, streams: [...all, ...dev], tasks: [] };
  },
};

/**
 * The upstream-modes case runs first: its alert is a share of the takeovers in the last 15 min, and
 * the other cases' takeovers (none of them resets) would dilute it below the threshold.
 */
export const CASES: readonly ScenarioCase[] = [
  upstreamModes,
  rollingRestarts,
  scaleDown,
  sigkill,
  databaseRestart,
  upstreamFaults,
];

/** The alerts seen during a case, checked against what the case promises. */
async function alertCheck(
  d: Driver,
  c: ScenarioCase,
  from: number,
): Promise<{ alerts?: AlertSeen[]; facts: Record<string, unknown>; failures: string[] }> {
  if (!d.prometheusUrl) return { facts: {}, failures: [] };
  // Two evaluation intervals after the last scrape, so what the case caused has been evaluated.
  await sleep(3_000);
  const alerts = await alertsDuring(d.prometheusUrl, from, Date.now());
  const describe = (a: AlertSeen) =>
    [
      a.alertname,
      ...Object.entries(a.labels)
        .filter(([k]) => k !== 'namespace' && k !== 'job')
        .map(([k, v]) => `${k}=${v}`),
    ].join(' ');
  const fired = alerts.filter((a) => a.firingFrom !== undefined && !a.carriedOver);
  const facts = {
    alertsFired: fired.map(describe),
    alertsPending: alerts.filter((a) => a.firingFrom === undefined && !a.carriedOver).map(describe),
    alertsStillFiringFromEarlier: alerts.filter((a) => a.carriedOver && a.firingFrom !== undefined).map(describe),
  };
  const failures: string[] = [];
  if (c.alerts?.none) for (const a of fired) failures.push(`alert ${describe(a)} fired (this case must fire none)`);
  for (const name of c.alerts?.fire ?? []) {
    if (!fired.some((a) => a.alertname === name)) failures.push(`alert ${name} did not fire`);
  }
  return { alerts, facts, failures };
}

export interface ScenarioReport {
  readonly driver: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly timings: Driver['timings'];
  readonly options: Omit<ScenarioOptions, 'progress'>;
  readonly cases: CaseResult[];
  readonly ok: boolean;
}

/** Runs every case the driver supports (or those whose name contains `only`), in order. */
export function runScenario(d: Driver, o: ScenarioOptions, only?: string): Promise<ScenarioReport> {
  return runCases(d, o, CASES, only);
}

/** Runs `list` in order (the ones the driver supports, whose name contains `only`), judging each the same way. */
export async function runCases(
  d: Driver,
  o: ScenarioOptions,
  list: readonly ScenarioCase[],
  only?: string,
): Promise<ScenarioReport> {
  const startedAt = Date.now();
  const cases: CaseResult[] = [];
  const tag = randomBytes(4).toString('hex');
  for (const c of list) {
    if (only && !c.name.includes(only)) continue;
    if (c.needs && !c.needs(d)) {
      o.progress(`skip: ${c.name} (the ${d.name} driver cannot inject this fault)`);
      continue;
    }
    o.progress(`case: ${c.name}`);
    const caseStart = Date.now();
    const before = d.serviceErrors?.();
    const r = await c.run(d, o, `${tag}-${cases.length}`);
    const terminations = (await d.terminations()).filter((t) => t.deletedAt >= caseStart);
    const alerts = await alertCheck(d, c, caseStart);
    const failures = [
      ...r.failures,
      ...terminationFailures(terminations),
      ...(c.platformErrorsExpected ? [] : serviceFailures(d, before)),
      ...alerts.failures,
    ];
    const result: CaseResult = {
      name: c.name,
      startedAt: caseStart,
      endedAt: Date.now(),
      terminations,
      ...r,
      ...(alerts.alerts ? { alerts: alerts.alerts } : {}),
      facts: { ...r.facts, ...exitFacts(terminations, d), ...alerts.facts },
      failures,
    };
    cases.push(result);
    o.progress(
      `${failures.length === 0 ? 'PASS' : 'FAIL'} (${((result.endedAt - caseStart) / 1000).toFixed(0)} s): ${c.name} ${JSON.stringify(result.facts)}`,
    );
    for (const f of failures) o.progress(`  ✗ ${f}`);
  }
  const { progress: _progress, ...options } = o;
  return {
    driver: d.name,
    startedAt,
    endedAt: Date.now(),
    timings: d.timings,
    options,
    cases,
    ok: cases.every((c) => c.failures.length === 0),
  };
}
