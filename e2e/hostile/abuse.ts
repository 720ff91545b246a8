/**
 * Abusive but well-formed clients: one key taking every stream slot, a burst of tasks from one
 * key ahead of another key's task, and a flood of document upserts. These measure whether one
 * key can starve the others (per-key limits and fairness), not whether requests are malformed.
 */
import type pg from 'pg';
import { api, metric, ownerOf, scrape, sleep, waitForTask, type TaskView } from './harness.js';
import type { ServiceProcess } from '../../testkit/service.js';
import { METRICS } from '../../src/metrics/names.js';

const count = (statuses: number[]) => {
  const out: Record<string, number> = {};
  for (const s of statuses) out[String(s)] = (out[String(s)] ?? 0) + 1;
  return out;
};

export interface StreamSlotsResult {
  readonly maxConcurrentStreams: number;
  /** Statuses of key A's concurrent `POST /v1/chat/stream`. */
  readonly aStarts: Record<string, number>;
  /** Key B's stream while A holds the slots. */
  readonly bStartStatus: number;
  /** Statuses of key A's extra `GET /v1/streams/:id` clients on one of its streams. */
  readonly aJoins: Record<string, number>;
  /** Key B reading its own (finished) stream while A holds the client slots. */
  readonly bJoinStatus: number;
  /** Gauges once every client hung up: should be back at their baseline (no leak on the normal path). */
  readonly clientsAfterAbort?: number;
  readonly activeAfterAbort?: number;
}

/** Key A opens `n` streams and `n` extra readers at once; can key B still get a stream? */
export async function streamSlots(
  svc: ServiceProcess,
  keys: { A: string; B: string },
  streamB: string,
  n: number,
  max: number,
): Promise<StreamSlotsResult> {
  const ctl = new AbortController();
  const open = async (key: string, method: string, path: string, body?: unknown) => {
    try {
      const res = await fetch(`${svc.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: ctl.signal,
      });
      const id = res.headers.get('lastcall-stream-id') ?? undefined;
      if (res.status !== 200) await res.text();
      else void res.body?.pipeTo(new WritableStream()).catch(() => undefined);
      return { status: res.status, id };
    } catch {
      return { status: 0, id: undefined };
    }
  };
  const chat = { messages: [{ role: 'user', content: 'hold a slot for a while' }], max_tokens: 4096 };
  const starts = await Promise.all(Array.from({ length: n }, () => open(keys.A, 'POST', '/v1/chat/stream', chat)));
  const b = await open(keys.B, 'POST', '/v1/chat/stream', chat);
  const live = starts.find((s) => s.status === 200)?.id;
  const joins = live ? await Promise.all(Array.from({ length: n }, () => open(keys.A, 'GET', `/v1/streams/${live}`))) : [];
  const bJoin = await open(keys.B, 'GET', `/v1/streams/${streamB}`);
  ctl.abort();
  // Every client hung up: generations stop (client_aborted) and the gauges return to zero.
  let samples = (await scrape(svc)).samples;
  for (
    let i = 0;
    i < 30 && ((metric(samples, METRICS.streamClients) ?? 0) > 0 || (metric(samples, METRICS.streamsActive) ?? 0) > 0);
    i++
  ) {
    await sleep(100);
    samples = (await scrape(svc)).samples;
  }
  return {
    maxConcurrentStreams: max,
    aStarts: count(starts.map((s) => s.status)),
    bStartStatus: b.status,
    aJoins: count(joins.map((s) => s.status)),
    bJoinStatus: bJoin.status,
    clientsAfterAbort: metric(samples, METRICS.streamClients),
    activeAfterAbort: metric(samples, METRICS.streamsActive),
  };
}

export interface TaskBurstResult {
  readonly submitted: number;
  readonly statuses: Record<string, number>;
  readonly burstMs: number;
  /** Key B's task, submitted right after A's burst: time until its first step was committed. */
  readonly bFirstStepMs?: number;
  readonly bFirstStepCapMs: number;
  /** A's tasks claimed before B's (FIFO across keys puts B behind all of them). */
  readonly aClaimedBeforeB?: number;
  readonly aCompletedWhenBStarted?: number;
  readonly cancelledAfter: number;
}

/** `n` tasks from key A at once, then one from key B: is B served before A's backlog drains? */
export async function taskBurst(
  svc: ServiceProcess,
  db: pg.Client,
  keys: { A: string; B: string },
  n: number,
  capMs: number,
): Promise<TaskBurstResult> {
  const t0 = performance.now();
  const posts = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      api(svc.url, keys.A, 'POST', '/v1/tasks', { prompt: `burst task ${i}`, max_steps: 6 }).catch(() => ({
        status: 0,
        json: undefined,
      })),
    ),
  );
  const burstMs = performance.now() - t0;
  const b = await api(svc.url, keys.B, 'POST', '/v1/tasks', { prompt: 'key B waits in line', max_steps: 2 });
  const tB = performance.now();
  const bId = (b.json as { id?: string }).id;
  let bFirstStepMs: number | undefined;
  if (bId) {
    const seen = await waitForTask(
      svc.url,
      keys.B,
      bId,
      (t: TaskView) => t.steps.length > 0 || ['completed', 'failed', 'cancelled'].includes(t.status),
      capMs,
    );
    if (seen) bFirstStepMs = performance.now() - tB;
  }
  let aClaimedBeforeB: number | undefined;
  let aCompletedWhenBStarted: number | undefined;
  if (bId) {
    const r = await db.query<{ before: number; completed: number }>(
      `SELECT count(*) FILTER (WHERE a.claimed_at < b.claimed_at)::int AS before,
              count(*) FILTER (WHERE a.status = 'completed' AND a.updated_at < b.claimed_at)::int AS completed
         FROM tasks a, tasks b WHERE b.id = $1 AND a.owner = $2 AND a.prompt LIKE 'burst task %'`,
      [bId, ownerOf(keys.A)],
    );
    aClaimedBeforeB = bFirstStepMs === undefined ? undefined : r.rows[0]?.before;
    aCompletedWhenBStarted = bFirstStepMs === undefined ? undefined : r.rows[0]?.completed;
  }
  // Clear A's backlog through the API so the sections after this one run on an idle worker.
  const ids = posts.map((p) => (p.json as { id?: string } | undefined)?.id).filter((x): x is string => !!x);
  let cancelled = 0;
  for (let i = 0; i < ids.length; i += 25) {
    const rs = await Promise.all(
      ids.slice(i, i + 25).map((id) => api(svc.url, keys.A, 'DELETE', `/v1/tasks/${id}`).catch(() => ({ status: 0 }))),
    );
    cancelled += rs.filter((r) => r.status === 200).length;
  }
  if (bId) await api(svc.url, keys.B, 'DELETE', `/v1/tasks/${bId}`).catch(() => undefined);
  return {
    submitted: n,
    statuses: count(posts.map((p) => p.status)),
    burstMs: Math.round(burstMs),
    bFirstStepMs: bFirstStepMs === undefined ? undefined : Math.round(bFirstStepMs),
    bFirstStepCapMs: capMs,
    aClaimedBeforeB,
    aCompletedWhenBStarted,
    cancelledAfter: cancelled,
  };
}

export interface DocumentFloodResult {
  readonly requests: number;
  readonly docsPerRequest: number;
  readonly statuses: Record<string, number>;
  readonly docsAccepted: number;
  readonly elapsedMs: number;
  /** Rows the key owns afterwards. */
  readonly docsStored: number;
}

/** One key upserts `requests × perRequest` documents, `concurrency` requests at a time. */
export async function documentFlood(
  svc: ServiceProcess,
  db: pg.Client,
  key: string,
  requests: number,
  perRequest: number,
  concurrency: number,
): Promise<DocumentFloodResult> {
  const t0 = performance.now();
  const statuses: number[] = [];
  let accepted = 0;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < requests; i = next++) {
      const documents = Array.from({ length: perRequest }, (_, j) => ({
        id: `flood-${i}-${j}`,
        text: `flood document ${i}-${j}: the quick brown fox jumps over the lazy dog ${i * perRequest + j}`,
        metadata: { i, j },
      }));
      const r = await api(svc.url, key, 'POST', '/v1/documents', { documents }).catch(() => ({ status: 0, json: undefined }));
      statuses.push(r.status);
      if (r.status === 200) accepted += perRequest;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = Math.round(performance.now() - t0);
  const stored = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM documents WHERE owner = $1`, [ownerOf(key)]);
  return {
    requests,
    docsPerRequest: perRequest,
    statuses: count(statuses),
    docsAccepted: accepted,
    elapsedMs,
    docsStored: stored.rows[0]?.n ?? 0,
  };
}
