import { randomInt } from 'node:crypto';
import { METRICS } from '../../src/metrics/names.js';
import type { Driver, Release } from './driver.js';
import { scalar } from './prometheus.js';
import {
  exactlyOnce,
  listed,
  streamFailures,
  streamFacts,
  streamsThroughRollout,
  streamTokens,
  taskFailures,
  waitForScrape,
  type ScenarioCase,
  type ScenarioOptions,
} from './rolling-restart.js';
import { EmbeddingLoad, StreamLoad, TaskLoad } from './traffic.js';
import { judgeAgainstUpstream } from './upstream-modes.js';

/**
 * The chaos and soak run (`npm run chaos`; a short version in e2e/chaos.local.test.ts): a
 * sequence of faults, each under its own sustained load — streams kept open, tasks, embeddings —
 * judged like the e2e scenario (rolling-restart.ts: every stream exact, every task step exactly
 * once, every gracefully deleted pod exits 0 inside its grace period).
 */
export interface ChaosOptions extends ScenarioOptions {
  /** Consecutive rolling restarts (`restarts` is the rollouts fault's count). */
  readonly kills: number;
  /** How long a replica is cut off PostgreSQL: longer than the task/stream lease. */
  readonly partitionSeconds: number;
  /** How long PostgreSQL is frozen (SIGSTOP). */
  readonly databaseStallSeconds: number;
  /** Embedding clients (0: none). */
  readonly embeddingWorkers: number;
  /** The previous release, for the version-skew fault. */
  readonly previous?: Release;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** What each fault does to the cluster while the load runs; its facts go into the report. */
type Fault = (
  d: Driver,
  o: ChaosOptions,
  streams: StreamLoad,
) => Promise<{ facts?: Record<string, unknown>; failures?: string[] }>;

/** The load every fault runs under: `o.streams` streams kept open, `o.tasks` tasks, embeddings. */
async function underLoad(d: Driver, o: ChaosOptions, tag: string, fault: Fault) {
  const { minTokens, maxTokens } = streamTokens(d);
  const streams = new StreamLoad(d.serviceUrl, d.apiKey, { tag, concurrency: o.streams, minTokens, maxTokens });
  const tasks = new TaskLoad(d.serviceUrl, d.apiKey, tag);
  const embeddings = new EmbeddingLoad(d.serviceUrl, d.apiKey, tag);
  streams.start();
  if (o.embeddingWorkers > 0) embeddings.start(o.embeddingWorkers);
  await tasks.submit(o.tasks);
  // Let the longest streams get well under way before the fault.
  await sleep(d.timings.drainBudgetSeconds * 500);
  const r = await fault(d, o, streams);
  await Promise.all([streams.stop(), embeddings.stop()]);
  o.progress(`load stopped: ${streams.records.length} streams, ${embeddings.rounds} embedding rounds; waiting for tasks`);
  const taskProblems = await taskFailures(d, tasks, 180_000);
  const failures = [
    ...(r.failures ?? []),
    ...streamFailures(streams.records),
    ...listed('embeddings', embeddings.failures),
    ...taskProblems,
  ];
  await d.settle();
  await waitForScrape(d);
  const stored = await d.taskSteps(tasks.records.map((t) => t.id));
  const facts = {
    ...streamFacts(streams.records, d),
    lost: streams.records.filter((x) => x.failure !== undefined || x.errorEvent !== undefined).length,
    tasks: tasks.records.length,
    tasksCompletedStepsExactlyOnce: tasks.records.filter((t) => t.status === 'completed' && exactlyOnce(stored.get(t.id) ?? []))
      .length,
    embeddingRounds: embeddings.rounds,
    embeddingFailures: embeddings.failures.length,
    ...r.facts,
  };
  return { failures, facts, streams: streams.records, tasks: tasks.records };
}

/** A chaos case: one fault under load. `key` selects it (CHAOS_FAULTS). */
interface ChaosCase extends ScenarioCase {
  readonly key: string;
}

function chaosCase(
  key: string,
  name: string,
  fault: Fault,
  extra: Pick<ScenarioCase, 'needs' | 'platformErrorsExpected'> = {},
): ChaosCase {
  return { key, name: `${key}: ${name}`, ...extra, run: (d, o, tag) => underLoad(d, o as ChaosOptions, tag, fault) };
}

const rollouts = chaosCase(
  'rollouts',
  'consecutive rolling restarts under load lose no stream and no task step',
  async (d, o, streams) => {
    for (let i = 1; i <= o.restarts; i++) {
      const t = Date.now();
      await d.rolloutRestart();
      o.progress(
        `rollout ${i}/${o.restarts} complete in ${seconds(t)}; ${streams.open} streams open, ${streams.records.length} started`,
      );
    }
    return { facts: { rollouts: o.restarts } };
  },
);

const kills = chaosCase(
  'kills',
  'a random replica SIGKILLed at a random moment, again and again, loses no stream and no task step',
  async (d, o, streams) => {
    const victims: string[] = [];
    for (let i = 1; i <= o.kills; i++) {
      // A random moment: anywhere in the next drain budget.
      await sleep(randomInt(d.timings.drainBudgetSeconds * 1000));
      const t = Date.now();
      victims.push(await d.killPod());
      // The Deployment replaces it before the next trial.
      await d.settle();
      o.progress(
        `kill ${i}/${o.kills}: ${victims.at(-1)} SIGKILLed, replaced in ${seconds(t)}; ${streams.open} streams open, ${streams.records.length} started`,
      );
    }
    return { facts: { kills: victims.length } };
  },
  // Until the Service drops a dead pod's endpoint it refuses connections to it: clients retry.
  { platformErrorsExpected: true },
);

/** Sum of `metric` for one pod at `at`, or its increase over `[from, at]` for a counter. */
function podMetric(url: string, metric: string, pod: string, at: number, from?: number): Promise<number> {
  const sel = `${metric}{pod="${pod}"}`;
  return scalar(url, from === undefined ? `sum(${sel})` : `sum(increase(${sel}[${Math.round((at - from) / 1000)}s]))`, at);
}

const partition = chaosCase(
  'partition',
  'a replica cut off PostgreSQL for longer than the lease stops generating (fenced), its clients resume elsewhere, and it recovers once the network returns',
  async (d, o) => {
    const lease = d.timings.taskLeaseSeconds;
    const p = await d.partitionFromDatabase!();
    const cut = Date.now();
    o.progress(`partitioned ${p.pod} from PostgreSQL for ${o.partitionSeconds} s (lease ${lease} s)`);
    let wentUnready = false;
    while (Date.now() - cut < o.partitionSeconds * 1000) {
      const me = (await d.pods()).find((x) => x.name === p.pod);
      if (me && !me.ready) wentUnready = true;
      await sleep(250);
    }
    const healedAt = Date.now();
    await p.heal();
    o.progress(`healed ${p.pod} after ${seconds(cut)}`);
    const failures: string[] = [];
    const facts: Record<string, unknown> = { partitionedPod: p.pod, partitionSeconds: o.partitionSeconds, wentUnready };
    // Recovery: the same process ready again, serving.
    let recovered: number | undefined;
    while (Date.now() - healedAt < 60_000) {
      const me = (await d.pods()).find((x) => x.name === p.pod);
      if (!me || me.terminating) break;
      if (me.ready) {
        recovered = Date.now() - healedAt;
        break;
      }
      await sleep(250);
    }
    if (recovered === undefined) failures.push(`${p.pod} was not ready again within 60 s of the network returning`);
    else facts.readyAgainAfterHealMs = recovered;
    // Fenced: from one lease (plus scrape and timer slack) after the cut until the heal, it
    // generated nothing.
    if (d.prometheusUrl) {
      const from = cut + (lease + 3) * 1000;
      if (healedAt - from < 2_000) failures.push(`the partition (${o.partitionSeconds} s) is too short to judge fencing`);
      else {
        const url = d.prometheusUrl;
        const [tokens, streamsHeld, tasksHeld] = await Promise.all([
          podMetric(url, METRICS.streamTokens, p.pod, healedAt, from),
          podMetric(url, METRICS.streamsActive, p.pod, healedAt),
          podMetric(url, METRICS.tasksActive, p.pod, healedAt),
        ]);
        Object.assign(facts, {
          tokensGeneratedAfterLease: tokens,
          streamsActiveAtHeal: streamsHeld,
          tasksActiveAtHeal: tasksHeld,
        });
        if (tokens > 0)
          failures.push(`${p.pod} generated ${tokens} tokens more than a lease after it lost PostgreSQL (not fenced)`);
        // Streams and tasks blocked on a hung database call still count as active: facts, not
        // failures (they produce nothing, and their writes are fenced by epoch once the network
        // returns; duplicated or missing task steps fail the case below).
      }
    }
    return { facts, failures };
  },
  { needs: (d) => !!d.partitionFromDatabase, platformErrorsExpected: true },
);

const databaseRestart = chaosCase(
  'pg-restart',
  'a PostgreSQL restart under load loses no stream and no task step',
  async (d, o) => {
    const t = Date.now();
    await d.restartDatabase!();
    o.progress(`database restarted in ${seconds(t)}`);
    return {};
  },
  { needs: (d) => !!d.restartDatabase },
);

const databaseStall = chaosCase(
  'pg-stall',
  'a PostgreSQL stall (postmaster and backends SIGSTOPped) under load loses no stream and no task step',
  async (d, o) => {
    await d.stallDatabase!(o.databaseStallSeconds * 1000);
    o.progress(`database stalled for ${o.databaseStallSeconds} s, running again`);
    return { facts: { databaseStallSeconds: o.databaseStallSeconds } };
  },
  { needs: (d) => !!d.stallDatabase },
);

/**
 * The provider emulator (testkit/emulator) stalls every 3rd stream for longer than the drain
 * budget, a second in, while a rollout drains the replicas: the drain must still end in time and
 * every stream must end as one answer the provider gave. The dev upstream has no stall fault.
 */
const upstreamStall: ChaosCase = {
  key: 'upstream-stall',
  name: 'upstream-stall: an upstream that sends nothing for longer than the drain budget during a rollout holds up no drain and loses no stream',
  needs: (d) => !!d.useUpstream,
  async run(d, o, tag) {
    const { minTokens, maxTokens } = streamTokens(d);
    const stallSeconds = d.timings.drainBudgetSeconds + 3;
    await d.useUpstream!({ kind: 'emulator', resumeMode: 'responses', minTokens, maxTokens });
    await d.emulator!.reset();
    let records;
    try {
      await d.emulator!.faults({ stallEveryNthStream: 3, stallAfterTokens: Math.ceil(d.timings.tokensPerSecond), stallSeconds });
      o.progress(
        `emulator: every 3rd stream stalls ${stallSeconds} s (drain budget ${d.timings.drainBudgetSeconds} s); rolling out`,
      );
      records = await streamsThroughRollout(d, o, tag, 'upstream');
    } finally {
      await d.emulator!.faults({ stallEveryNthStream: 0 });
    }
    const figures = judgeAgainstUpstream('responses', records, await d.emulator!.generations());
    await d.useUpstream!({ kind: 'dev' });
    const { failures, ...rest } = figures;
    return {
      failures: listed('upstream stall', failures),
      facts: { ...rest, stallSeconds, lost: records.filter((r) => r.failure || r.errorEvent).length },
      streams: records,
      tasks: [],
    };
  },
};

const versionSkew = chaosCase(
  'version-skew',
  'a rolling upgrade from the previous release and a rollback under load lose no stream and no task step',
  async (d, o, streams) => {
    const prev = o.previous!;
    const steps: [string, Release | undefined][] = [
      [`→ ${prev.name}`, prev],
      [`upgrade ${prev.name} → this checkout`, undefined],
      [`rollback → ${prev.name}`, prev],
    ];
    for (const [what, release] of steps) {
      const t = Date.now();
      await d.useRelease!(release);
      o.progress(`${what} complete in ${seconds(t)}; ${streams.open} streams open, ${streams.records.length} started`);
    }
    return { facts: { previous: prev.name, rollouts: steps.map(([w]) => w) } };
  },
  { needs: (d) => !!d.useRelease },
);

/** Every fault, in the order the full run injects them. */
export const CHAOS_CASES: readonly ChaosCase[] = [
  rollouts,
  kills,
  partition,
  databaseRestart,
  databaseStall,
  upstreamStall,
  versionSkew,
];

/** The cases named in `keys` (all when empty), in CHAOS_CASES order; the version skew only with a previous release. */
export function chaosCases(keys: readonly string[], o: Pick<ChaosOptions, 'previous'>): ScenarioCase[] {
  const unknown = keys.filter((k) => !CHAOS_CASES.some((c) => c.key === k));
  if (unknown.length > 0)
    throw new Error(`unknown fault(s) ${unknown.join(', ')}; known: ${CHAOS_CASES.map((c) => c.key).join(', ')}`);
  return CHAOS_CASES.filter((c) => (keys.length === 0 || keys.includes(c.key)) && (c !== versionSkew || o.previous));
}
