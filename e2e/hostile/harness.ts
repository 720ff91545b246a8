/**
 * What the sweep runs against — a throwaway PostgreSQL and real replicas of the built service —
 * and the helpers every section shares: metrics scraping, clean-up on any exit, progress lines.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const t0 = performance.now();
export function progress(line: string): void {
  process.stdout.write(`[hostile +${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
}

/** Clean-up steps, run once in reverse order on normal exit, on failure and on SIGINT/SIGTERM. */
const cleanups: { name: string; fn: () => Promise<void> | void }[] = [];
let cleaning: Promise<void> | undefined;
export function onCleanup(name: string, fn: () => Promise<void> | void): void {
  // Something started after clean-up began (the sweep was interrupted mid-way): undo it now.
  if (cleaning)
    void Promise.resolve()
      .then(fn)
      .catch(() => undefined);
  else cleanups.push({ name, fn });
}
export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of cleanups.reverse()) {
      try {
        await c.fn();
      } catch (err) {
        progress(`cleanup ${c.name} failed: ${(err as Error).message}`);
      }
    }
    cleanups.length = 0;
  })();
  return cleaning;
}
let interrupted = false;
export const isInterrupted = () => interrupted;
export function installSignalCleanup(): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (interrupted) return;
      interrupted = true;
      progress(`${sig}: cleaning up`);
      void cleanupAll().finally(() => process.exit(130));
    });
  }
}

/** Two bearer keys of 48 characters. */
export function newKeys(): { A: string; B: string } {
  const k = () => `hk_${randomBytes(33).toString('base64url')}`;
  return { A: k(), B: k() };
}

/** The owner a key's resources are stored under (src/http/auth.ts: a digest, never the key). */
export const ownerOf = (key: string) => `key:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;

export interface Replica {
  readonly svc: ServiceProcess;
  readonly name: string;
}

export const SWEEP_ENV = (databaseUrl: string, keys: { A: string; B: string }, replica: string): Record<string, string> => ({
  DATABASE_URL: databaseUrl,
  API_KEYS: `${keys.A},${keys.B}`,
  MAX_CONCURRENT_STREAMS: '4',
  MAX_BODY_BYTES: '65536',
  // Small like the other caps: a request not received in 8 s gets 408 inside the sweep's 10 s
  // hang window (the default is 30 s).
  REQUEST_TIMEOUT_SECONDS: '8',
  TASK_LEASE_SECONDS: '5',
  TASK_WORKER_CONCURRENCY: '4',
  DEV_UPSTREAM_TOKENS_PER_SECOND: '1000',
  // Budget 10 − 0 − 2 = 8 s: long enough to hold every phase, short enough to measure.
  TERMINATION_GRACE_PERIOD_SECONDS: '10',
  ENDPOINT_PROPAGATION_SECONDS: '0.5',
  REPLICA_ID: replica,
  LOG_LEVEL: 'info',
});

export async function startPg(): Promise<PostgresInstance> {
  const db = await startPostgres();
  onCleanup('postgresql', async () => {
    resumePostgres(db); // never stop a SIGSTOPped cluster (pg_ctl would wait for it)
    await db.stop();
  });
  return db;
}

export async function startReplica(databaseUrl: string, keys: { A: string; B: string }, name: string): Promise<Replica> {
  const svc = await startService(SWEEP_ENV(databaseUrl, keys, name));
  onCleanup(`replica ${name}`, async () => {
    if (svc.proc.exitCode === null && svc.proc.signalCode === null) {
      svc.kill('SIGKILL');
      await svc.exited;
    }
    fs.rmSync(svc.dataDir, { recursive: true, force: true });
  });
  return { svc, name };
}

/** A pg client of the sweep's own (locks, fixtures, pg_stat_activity). */
export async function adminClient(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, application_name: 'hostile-sweep' });
  c.on('error', () => undefined);
  await c.connect();
  onCleanup('admin pg client', () => c.end().catch(() => undefined));
  return c;
}

// ---- SIGSTOP / SIGCONT of the whole PostgreSQL cluster -----------------------------------------

function postmasterPid(db: PostgresInstance): number | undefined {
  try {
    return Number(fs.readFileSync(path.join(db.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
}

/** The postmaster and every process it forked (backends, checkpointer, walwriter…). */
export function postgresPids(db: PostgresInstance): number[] {
  const root = postmasterPid(db);
  if (!root) return [];
  const pids = [root];
  try {
    const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(root)], { encoding: 'utf8' });
    for (const l of out.split('\n')) if (l.trim()) pids.push(Number(l.trim()));
  } catch {
    /* no children */
  }
  return pids;
}

let stopped: number[] = [];
export function stopPostgres(db: PostgresInstance): number[] {
  stopped = postgresPids(db);
  for (const pid of stopped) {
    try {
      process.kill(pid, 'SIGSTOP');
    } catch {
      /* gone */
    }
  }
  return stopped;
}
export function resumePostgres(_db: PostgresInstance): void {
  for (const pid of stopped) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      /* gone */
    }
  }
  stopped = [];
}

// ---- metrics -----------------------------------------------------------------------------------

export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

export async function scrape(svc: ServiceProcess): Promise<{ text: string; samples: Sample[] }> {
  const text = await (await fetch(`${svc.adminUrl}/metrics`)).text();
  return { text, samples: parseMetrics(text) };
}

/** Sum of a metric's series; undefined when the service does not export it. */
export function metric(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
  return hits.length ? hits.reduce((a, s) => a + s.value, 0) : undefined;
}

// ---- small HTTP helpers (well-behaved requests for fixtures and probes) ------------------------

export async function api(
  base: string,
  key: string,
  method: string,
  pathname: string,
  body?: unknown,
  opts: { signal?: AbortSignal; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: unknown; headers: Headers; ms: number }> {
  const t = performance.now();
  const res = await fetch(`${base}${pathname}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...opts.headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: opts.signal,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers, ms: performance.now() - t };
}

/** Starts a chat stream and reads it to the end; returns its id and the events seen. */
export async function chatToEnd(base: string, key: string, maxTokens: number): Promise<{ id: string; events: string[] }> {
  const res = await fetch(`${base}/v1/chat/stream`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hostile sweep fixture' }], max_tokens: maxTokens }),
  });
  if (res.status !== 200) throw new Error(`chat fixture: ${res.status} ${await res.text()}`);
  const id = res.headers.get('lastcall-stream-id') ?? '';
  const text = await res.text();
  return { id, events: [...text.matchAll(/^event: (\w+)/gm)].map((m) => m[1]!) };
}

export async function waitForTask(
  base: string,
  key: string,
  id: string,
  pred: (t: TaskView) => boolean,
  timeoutMs: number,
): Promise<TaskView | undefined> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    const r = await api(base, key, 'GET', `/v1/tasks/${id}`);
    if (r.status === 200 && pred(r.json as TaskView)) return r.json as TaskView;
    await sleep(100);
  }
  return undefined;
}

export interface TaskView {
  id: string;
  status: string;
  steps: { index: number; kind: string; created_at: string }[];
}
