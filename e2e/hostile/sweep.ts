/**
 * `npm run hostile` (`npx tsx e2e/hostile/sweep.ts [--quick]`): the hostile review as a
 * measuring stick. Against a real PostgreSQL and real replicas of the built service (run
 * `npm run build` first) it sends the input catalogue, slow and abusive clients, clients that
 * hang up while their query is blocked, a database stall and a SIGTERM with slow clients
 * attached; prints a summary and writes reports/hostile/summary.json.
 *
 * Exit 0 only with no 5xx, no hang, no leaked slot, no secret in the log, and a drain inside
 * its budget; 1 otherwise; 2 when the sweep itself could not run.
 *
 * --quick: one case per (category, route) plus the known offenders, shorter waits (< 60 s).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { METRICS } from '../../src/metrics/names.js';
import { ROOT } from '../../testkit/service.js';
import { abortDuringSlowQuery, insertStuckTask, type AbortResult } from './abort.js';
import { documentFlood, streamSlots, taskBurst } from './abuse.js';
import { buildCatalogue, quickSubset, type Case } from './catalogue.js';
import { databaseHang } from './dbhang.js';
import { drainWithClients, type DrainResult } from './drain.js';
import {
  adminClient,
  api,
  chatToEnd,
  cleanupAll,
  installSignalCleanup,
  isInterrupted,
  metric,
  newKeys,
  progress,
  scrape,
  startPg,
  startReplica,
  SWEEP_ENV,
  waitForTask,
  type Replica,
} from './harness.js';
import { exchange } from './raw.js';
import { formatSummary, type Summary } from './report.js';
import { HANG_MS, runCatalogue, type CaseResult } from './run-catalogue.js';
import { idleConnections, trickleProbes, type IdleResult, type TrickleResult } from './slow.js';

export const REPORT_DIR = path.join(ROOT, 'reports/hostile');

const ROUTE_TEMPLATES = new Set([
  '/v1/chat/stream',
  '/v1/streams/:id',
  '/v1/tasks',
  '/v1/tasks/:id',
  '/v1/tasks/:id/events',
  '/v1/embeddings',
  '/v1/documents',
  '/v1/search',
  '/',
  'unmatched',
]);

interface Plan {
  readonly trickleCapMs: number;
  readonly idleConnections: number;
  readonly streamClients: number;
  readonly tasks: number;
  readonly taskWaitCapMs: number;
  readonly floodRequests: number;
  readonly stallMs: number;
}
const FULL: Plan = {
  trickleCapMs: 40_000,
  idleConnections: 600,
  streamClients: 12,
  tasks: 300,
  taskWaitCapMs: 60_000,
  floodRequests: 40,
  stallMs: 11_000,
};
const QUICK: Plan = {
  trickleCapMs: 12_000,
  idleConnections: 200,
  streamClients: 8,
  tasks: 40,
  taskWaitCapMs: 10_000,
  floodRequests: 8,
  stallMs: 11_000,
};

export async function sweep(quick: boolean): Promise<Summary> {
  const plan = quick ? QUICK : FULL;
  const started = Date.now();
  const errors: string[] = [];
  const keys = newKeys();
  let cases: Case[] = [];
  let results: CaseResult[] = [];
  let trickle: TrickleResult[] = [];
  let idle: IdleResult | undefined;
  let idleDuring: { status?: number; connectionsGauge?: number } | undefined;
  const abuse: NonNullable<Summary['abuse']> = {};
  const aborts: AbortResult[] = [];
  let afterAborts: Record<string, number | undefined> | undefined;
  let dbHang: Summary['dbHang'];
  const drains: DrainResult[] = [];
  let metricsHygiene: Summary['metricsHygiene'];
  const replicas: Replica[] = [];
  const section = async (name: string, fn: () => Promise<void>) => {
    if (isInterrupted()) return;
    progress(`— ${name}`);
    try {
      await fn();
    } catch (err) {
      errors.push(`${name}: ${(err as Error).stack ?? String(err)}`);
      progress(`${name} failed: ${(err as Error).message}`);
    }
  };

  try {
    progress('starting PostgreSQL 15 + pgvector');
    const db = await startPg();
    progress('starting replica hostile-1 (dist/main.js)');
    const r1 = await startReplica(db.url, keys, 'hostile-1');
    replicas.push(r1);
    const svc = r1.svc;
    const admin = await adminClient(db.url);
    const maxStreams = Number(SWEEP_ENV('', keys, '').MAX_CONCURRENT_STREAMS);

    progress('fixtures: a finished stream, a completed task and a document per key');
    const [streamA, streamB] = await Promise.all([chatToEnd(svc.url, keys.A, 8), chatToEnd(svc.url, keys.B, 8)]);
    const tA = await api(svc.url, keys.A, 'POST', '/v1/tasks', { prompt: 'fixture task of key A', max_steps: 2 });
    const tB = await api(svc.url, keys.B, 'POST', '/v1/tasks', { prompt: 'fixture task of key B', max_steps: 2 });
    const taskA = (tA.json as { id: string }).id;
    const taskB = (tB.json as { id: string }).id;
    const docBMarker = `confidentialmarker${Date.now()}`;
    const docB = await api(svc.url, keys.B, 'POST', '/v1/documents', {
      documents: [{ id: 'b-private', text: `key B private note ${docBMarker}` }],
    });
    if (docB.status !== 200) throw new Error(`document fixture: ${docB.status} ${JSON.stringify(docB.json)}`);
    for (const [key, id] of [
      [keys.A, taskA],
      [keys.B, taskB],
    ] as const) {
      if (!(await waitForTask(svc.url, key, id, (t) => t.status === 'completed', 20_000)))
        throw new Error(`fixture task ${id} did not complete`);
    }
    const stuckTask = await insertStuckTask(admin, keys.A);

    // Slow clients run in the background while the catalogue and the abuse probes run.
    progress(
      `slow clients: 3 trickling sockets and ${plan.idleConnections} idle connections, held up to ${plan.trickleCapMs / 1000} s (in the background)`,
    );
    const trickling = trickleProbes(svc.port, keys.A, plan.trickleCapMs).catch((err: Error) => {
      errors.push(`trickle: ${err.message}`);
      return [] as TrickleResult[];
    });
    const idling = idleConnections(svc.port, plan.idleConnections, plan.trickleCapMs, async () => {
      const r = await api(svc.url, keys.A, 'GET', `/v1/tasks/${taskA}`).catch(() => ({ status: 0 }));
      idleDuring = { status: r.status, connectionsGauge: metric((await scrape(svc)).samples, METRICS.httpConnections) };
    }).catch((err: Error) => {
      errors.push(`idle connections: ${err.message}`);
      return undefined;
    });

    await section('1. input catalogue', async () => {
      const all = buildCatalogue({
        keys,
        streamA: streamA.id,
        streamB: streamB.id,
        taskA,
        taskB,
        docBMarker,
        maxBodyBytes: 65536,
      });
      cases = quick ? quickSubset(all) : all;
      progress(`catalogue: ${cases.length} cases${quick ? ` (quick subset of ${all.length})` : ''}`);
      results = await runCatalogue(svc.port, keys, cases, { concurrency: 8, progress });
      const bad = results.filter((r) => r.flags.includes('5xx') || r.flags.includes('hang')).length;
      progress(
        `catalogue done: ${results.filter((r) => r.class === '4xx' && r.jsonError).length} clean JSON 4xx, ${bad} 5xx or hangs`,
      );
    });

    await section('2. abusive clients', async () => {
      abuse.streamSlots = await streamSlots(svc, keys, streamB.id, plan.streamClients, maxStreams);
      progress(`stream slots: A ${JSON.stringify(abuse.streamSlots.aStarts)}, B → ${abuse.streamSlots.bStartStatus}`);
      abuse.taskBurst = await taskBurst(svc, admin, keys, plan.tasks, plan.taskWaitCapMs);
      progress(
        `task burst: ${JSON.stringify(abuse.taskBurst.statuses)} in ${abuse.taskBurst.burstMs} ms; B's first step after ${abuse.taskBurst.bFirstStepMs ?? '>cap'} ms`,
      );
      abuse.documentFlood = await documentFlood(svc, admin, keys.A, plan.floodRequests, 50, 8);
      progress(`document flood: ${abuse.documentFlood.docsAccepted} documents accepted in ${abuse.documentFlood.elapsedMs} ms`);
    });

    progress('waiting for the slow clients to finish');
    trickle = await trickling;
    idle = await idling;

    await section('3. hang up during a blocked query', async () => {
      const clientsCap = 2 * maxStreams;
      const cs = [
        {
          route: 'POST /v1/chat/stream',
          table: 'streams' as const,
          queryLike: 'INSERT INTO streams (id%',
          request: {
            method: 'POST',
            path: '/v1/chat/stream',
            headers: [['Content-Type', 'application/json']] as [string, string][],
            body: JSON.stringify({ messages: [{ role: 'user', content: 'abort me' }], max_tokens: 8 }),
          },
          slotGauge: METRICS.streamClients,
          count: () => maxStreams,
        },
        {
          route: 'GET /v1/streams/:id',
          table: 'streams' as const,
          queryLike: '%FROM streams WHERE id = $1%',
          request: { method: 'GET', path: `/v1/streams/${streamA.id}` },
          slotGauge: METRICS.streamClients,
          count: (g: Partial<Record<string, number>>) => clientsCap - (g[METRICS.streamClients] ?? 0),
        },
        {
          route: 'GET /v1/tasks/:id/events',
          table: 'tasks' as const,
          queryLike: '%FROM tasks WHERE id = $1 AND owner = $2%',
          request: { method: 'GET', path: `/v1/tasks/${stuckTask}/events` },
          slotGauge: METRICS.taskEventStreams,
          count: (g: Partial<Record<string, number>>) => maxStreams - (g[METRICS.taskEventStreams] ?? 0),
          measureXact: true,
        },
      ];
      for (const c of cs) {
        const r = await abortDuringSlowQuery({ svc, databaseUrl: db.url, observer: admin, keys, c, fresh: c.request });
        aborts.push(r);
        progress(
          `${c.route}: ${r.aborted} aborted (${r.blockedSeen} seen blocked), ${r.leaked} slots leaked; fresh request → ${r.freshStatus}`,
        );
      }
      const fresh = async (req: Parameters<typeof exchange>[1]) =>
        (await exchange(svc.port, req, keys, { timeoutMs: HANG_MS })).status;
      afterAborts = {
        'POST /v1/chat/stream': await fresh(cs[0]!.request),
        'GET /v1/streams/:id': await fresh(cs[1]!.request),
        'GET /v1/tasks/:id/events': await fresh(cs[2]!.request),
      };
    });

    await section('5. database hang', async () => {
      dbHang = await databaseHang({ db, svc, key: keys.A, taskId: taskA, stallMs: plan.stallMs, concurrent: 12 });
      progress(`database stall: plain request → ${dbHang.plain.status} after ${dbHang.plain.ms} ms`);
    });

    await section('metrics hygiene', async () => {
      const { text, samples } = await scrape(svc);
      const labels = [...new Set(samples.filter((s) => s.name === METRICS.httpRequests).map((s) => s.labels.route ?? ''))].sort();
      const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      metricsHygiene = {
        routeLabels: labels,
        oddRouteLabels: labels.filter((l) => !ROUTE_TEMPLATES.has(l)),
        promtool: promtool.error ? undefined : { ok: promtool.status === 0, output: `${promtool.stdout}${promtool.stderr}` },
      };
    });

    await section('4. drain', async () => {
      progress('starting replica hostile-2 for the drain with slow clients; SIGTERM to hostile-1 (leaked slots still held)');
      const budgetCap = 8_000 + 6_000;
      const [d1, d2] = await Promise.all([
        drainWithClients({
          svc,
          replica: 'hostile-1 (after the sweep)',
          key: keys.A,
          streams: 0,
          trickleBody: false,
          exitCapMs: budgetCap,
        }),
        (async () => {
          const r2 = await startReplica(db.url, keys, 'hostile-2');
          replicas.push(r2);
          return drainWithClients({
            svc: r2.svc,
            replica: 'hostile-2 (slow clients attached)',
            key: keys.A,
            streams: 3,
            eventsTaskId: stuckTask,
            trickleBody: true,
            exitCapMs: budgetCap,
          });
        })(),
      ]);
      drains.push(d2, d1);
      for (const d of drains)
        progress(
          `drain ${d.replica}: SIGTERM → exit ${d.sigtermToExitMs} ms of ${d.budgetMs} ms, exit ${d.exitCode}, abandoned: ${d.participantTimeouts.join(', ') || 'none'}`,
        );
    });
  } catch (err) {
    errors.push(`setup: ${(err as Error).stack ?? String(err)}`);
    progress(`setup failed: ${(err as Error).message}`);
  } finally {
    // Logs are complete once the replicas exited (the drain section) or are killed here.
    await cleanupAll();
  }

  // ---- the replica logs must hold neither keys nor payloads ----------------------------------
  const logText = replicas.map((r) => `${r.svc.logs.map((l) => JSON.stringify(l)).join('\n')}\n${r.svc.stderr()}`).join('\n');
  const apiKeysInLog = (['A', 'B'] as const)
    .filter((k) => logText.includes(keys[k]) || logText.includes(encodeURIComponent(keys[k])))
    .map((k) => `key ${k}`);
  const payloadFragmentsInLog = cases
    .filter((c) => c.secret && logText.includes(c.secret))
    .map((c) => {
      const at = logText.indexOf(c.secret!);
      return { case: c.name, fragment: logText.slice(Math.max(0, at - 60), at + c.secret!.length + 20).replace(/\s+/g, ' ') };
    });

  // ---- tallies and verdict ---------------------------------------------------------------------
  const byCategory: Record<string, Record<string, number>> = {};
  const flagged: Record<string, number> = {};
  for (const r of results) {
    const c = (byCategory[r.category] ??= { cases: 0 });
    c.cases = (c.cases ?? 0) + 1;
    c[r.class] = (c[r.class] ?? 0) + 1;
    if (r.flags.length) c.flagged = (c.flagged ?? 0) + 1;
    for (const f of r.flags) flagged[f] = (flagged[f] ?? 0) + 1;
  }
  const failures: string[] = [];
  if (errors.length) failures.push(`${errors.length} sweep errors`);
  if (flagged['5xx']) failures.push(`${flagged['5xx']} catalogue cases answered 5xx`);
  if (flagged.hang) failures.push(`${flagged.hang} catalogue cases hung`);
  const leaked = aborts.filter((a) => a.leaked > 0);
  if (leaked.length) failures.push(`leaked slots: ${leaked.map((a) => `${a.route} ${a.leaked}`).join(', ')}`);
  if (dbHang) {
    const all = [dbHang.plain, ...dbHang.concurrent];
    if (dbHang.plain.status === 0 || dbHang.plain.ms >= HANG_MS)
      failures.push(`database stall: a plain request waited ${(dbHang.plain.ms / 1000).toFixed(1)} s (no query timeout)`);
    const bare5xx = all.filter((r) => r.status >= 500 && (r.status === 500 || !r.retryAfter)).length;
    if (bare5xx) failures.push(`database stall: ${bare5xx} requests got 5xx without Retry-After`);
  }
  const slowDrain = drains[0];
  if (slowDrain && !slowDrain.ok)
    failures.push(
      `drain with slow clients: ${slowDrain.sigtermToExitMs} ms of ${slowDrain.budgetMs} ms, exit ${slowDrain.exitCode}, abandoned ${slowDrain.participantTimeouts.join(', ') || 'none'}`,
    );
  for (const d of drains.slice(1)) {
    if (d.exitCode !== 0 || d.sigtermToExitMs === undefined || (d.budgetMs !== undefined && d.sigtermToExitMs > d.budgetMs))
      failures.push(`drain ${d.replica}: exit ${d.exitCode} after ${d.sigtermToExitMs} ms`);
  }
  if (!slowDrain) failures.push('drain not measured');
  if (apiKeysInLog.length) failures.push(`API keys in the log: ${apiKeysInLog.join(', ')}`);
  if (payloadFragmentsInLog.length) failures.push(`${payloadFragmentsInLog.length} NUL-case payload fragments in the log`);

  const env = SWEEP_ENV('postgres://…', { A: '<key A>', B: '<key B>' }, 'hostile-N');
  return {
    ok: failures.length === 0,
    failures,
    mode: quick ? 'quick' : 'full',
    startedAt: new Date(started).toISOString(),
    durationS: (Date.now() - started) / 1000,
    config: env,
    catalogue: {
      total: results.length,
      byCategory,
      cleanJson4xx: results.filter((r) => r.class === '4xx' && r.jsonError).length,
      flagged,
      cases: results,
    },
    logLeaks: { apiKeysInLog, payloadFragmentsInLog },
    slowClients: { trickle, idle, idleDuring },
    abuse,
    aborts,
    afterAborts,
    dbHang,
    drains,
    metricsHygiene,
    errors,
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  installSignalCleanup();
  const quick = process.argv.includes('--quick');
  sweep(quick).then(
    (summary) => {
      fs.mkdirSync(REPORT_DIR, { recursive: true });
      const file = path.join(REPORT_DIR, 'summary.json');
      fs.writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
      process.stdout.write(`${formatSummary(summary)}\n\nreport: ${path.relative(ROOT, file)}\n`);
      process.exit(summary.ok ? 0 : 1);
    },
    async (err: unknown) => {
      progress(`error: ${(err as Error).stack ?? String(err)}`);
      await cleanupAll();
      process.exit(2);
    },
  );
}
