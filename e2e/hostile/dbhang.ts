/**
 * A database that stops answering: every PostgreSQL process is SIGSTOPped for a while (the
 * server accepts TCP connections into its backlog but answers nothing, like a hung host), and
 * plain requests show what a client gets: an answer with a retry hint, or a wait as long as the
 * stall. PostgreSQL is always resumed, also when this throws.
 */
import type { PostgresInstance } from '../../testkit/postgres.js';
import type { ServiceProcess } from '../../testkit/service.js';
import { resumePostgres, stopPostgres } from './harness.js';

export interface HangRequest {
  readonly status: number;
  readonly ms: number;
  readonly retryAfter?: string;
  readonly code?: string;
}

export interface DbHangResult {
  readonly stallMs: number;
  readonly processesStopped: number;
  /** One plain `GET /v1/tasks/:id` sent at the start of the stall. */
  readonly plain: HangRequest;
  /** More requests at once than the pool has connections. */
  readonly concurrent: HangRequest[];
  readonly readyz: HangRequest;
  /** A request after PostgreSQL resumed. */
  readonly afterResume: HangRequest;
}

async function timed(url: string, key: string | undefined, capMs: number): Promise<HangRequest> {
  const t = performance.now();
  try {
    const res = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {}, signal: AbortSignal.timeout(capMs) });
    const text = await res.text();
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      code = undefined;
    }
    return {
      status: res.status,
      ms: Math.round(performance.now() - t),
      retryAfter: res.headers.get('retry-after') ?? undefined,
      code,
    };
  } catch {
    return { status: 0, ms: Math.round(performance.now() - t) };
  }
}

export async function databaseHang(opts: {
  db: PostgresInstance;
  svc: ServiceProcess;
  key: string;
  taskId: string;
  stallMs: number;
  concurrent: number;
}): Promise<DbHangResult> {
  const { svc, key } = opts;
  const cap = opts.stallMs + 15_000;
  const url = `${svc.url}/v1/tasks/${opts.taskId}`;
  const pids = stopPostgres(opts.db);
  let plain: Promise<HangRequest>;
  let concurrent: Promise<HangRequest[]>;
  let readyz: Promise<HangRequest>;
  try {
    plain = timed(url, key, cap);
    concurrent = Promise.all(Array.from({ length: opts.concurrent }, () => timed(url, key, cap)));
    readyz = timed(`${svc.adminUrl}/readyz`, undefined, cap);
    await new Promise((r) => setTimeout(r, opts.stallMs));
  } finally {
    resumePostgres(opts.db);
  }
  const results = { plain: await plain, concurrent: await concurrent, readyz: await readyz };
  return { stallMs: opts.stallMs, processesStopped: pids.length, ...results, afterResume: await timed(url, key, 10_000) };
}
