/**
 * Clients that hang up while their handler awaits the database. A separate pg client holds an
 * ACCESS EXCLUSIVE lock on the table the handler reads, so its query blocks for as long as we
 * like; the clients' sockets are destroyed while it does; then the lock goes, and the gauges
 * show whether the replica still counts those clients (a leaked slot) and whether a fresh
 * request is refused because of them.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { METRICS } from '../../src/metrics/names.js';
import type { ServiceProcess } from '../../testkit/service.js';
import { encodeRequest, exchange, type Keys, type RawRequest } from './raw.js';
import { metric, onCleanup, ownerOf, scrape, sleep, type Sample } from './harness.js';

const GAUGES = [METRICS.streamClients, METRICS.taskEventStreams, METRICS.streamsActive, METRICS.httpInFlight] as const;
type Gauges = Partial<Record<(typeof GAUGES)[number], number>>;
const gauges = (s: readonly Sample[]): Gauges => Object.fromEntries(GAUGES.map((g) => [g, metric(s, g)]));

export interface AbortResult {
  readonly route: string;
  readonly table: string;
  readonly aborted: number;
  /** Backends seen blocked on the lock with this route's query before the sockets were destroyed. */
  readonly blockedSeen: number;
  readonly before: Gauges;
  readonly after: Gauges;
  /** The gauge that counts this route's slots, and how many more it holds than before (should be 0). */
  readonly slotGauge: string;
  readonly leaked: number;
  readonly freshStatus?: number;
  readonly freshCode?: string;
  /** Database transactions per second with no client connected, before and after (a leaked poller keeps querying). */
  readonly dbXactPerSecBefore?: number;
  readonly dbXactPerSecAfter?: number;
}

export interface AbortCase {
  readonly route: string;
  readonly table: 'streams' | 'tasks';
  /** Matches this route's blocked query in pg_stat_activity. */
  readonly queryLike: string;
  readonly request: RawRequest;
  readonly slotGauge: (typeof GAUGES)[number];
  /** How many clients to abort, given the gauges now (stay within the route's cap so each reaches the database). */
  readonly count: (now: Gauges) => number;
  readonly measureXact?: boolean;
}

/** A task that another (stuck) replica holds for an hour: its event stream never reaches `done`. */
export async function insertStuckTask(db: pg.Client, keyA: string): Promise<string> {
  const id = `task_${randomBytes(18).toString('base64url')}`;
  await db.query(
    `INSERT INTO tasks (id, owner, prompt, max_steps, status, lease_holder, lease_expires_at, epoch, claimed_at)
     VALUES ($1, $2, 'held by a stuck replica', 2, 'running', 'hostile-stuck-replica', now() + interval '1 hour', 1, now())`,
    [id, ownerOf(keyA)],
  );
  return id;
}

async function xactPerSec(db: pg.Client, ms: number): Promise<number> {
  const read = async () =>
    Number(
      (
        await db.query<{ n: string }>(
          `SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()`,
        )
      ).rows[0]?.n ?? 0,
    );
  const a = await read();
  await sleep(ms);
  const b = await read();
  // Our own two reads are transactions too.
  return Math.max(0, Math.round(((b - a - 1) * 1000) / ms));
}

export async function abortDuringSlowQuery(opts: {
  svc: ServiceProcess;
  databaseUrl: string;
  observer: pg.Client;
  keys: Keys;
  c: AbortCase;
  fresh: RawRequest;
}): Promise<AbortResult> {
  const { svc, c, keys } = opts;
  const before = gauges((await scrape(svc)).samples);
  const n = Math.max(1, c.count(before));
  const xBefore = c.measureXact ? await xactPerSec(opts.observer, 2_000) : undefined;

  const lock = new pg.Client({ connectionString: opts.databaseUrl, application_name: 'hostile-lock' });
  lock.on('error', () => undefined);
  await lock.connect();
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await lock.query('ROLLBACK').catch(() => undefined);
    await lock.end().catch(() => undefined);
  };
  onCleanup(`lock on ${c.table}`, release);
  const sockets: net.Socket[] = [];
  let blockedSeen = 0;
  try {
    await lock.query('BEGIN');
    await lock.query(`LOCK TABLE ${c.table} IN ACCESS EXCLUSIVE MODE`);
    const bytes = encodeRequest({ ...c.request, headers: [...(c.request.headers ?? []), ['Connection', 'keep-alive']] }, keys);
    for (let i = 0; i < n; i++) {
      const s = net.connect(svc.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.once('connect', () => s.write(bytes));
      sockets.push(s);
    }
    // Wait until every request's query is blocked on our lock.
    const end = performance.now() + 5_000;
    while (performance.now() < end) {
      const r = await opts.observer.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
        [c.queryLike],
      );
      blockedSeen = r.rows[0]?.n ?? 0;
      if (blockedSeen >= n) break;
      await sleep(50);
    }
    for (const s of sockets) s.destroy();
    await sleep(300); // the replica sees the sockets close while its queries are still blocked
  } finally {
    await release();
    for (const s of sockets) s.destroy();
  }
  await sleep(1_500);
  const after = gauges((await scrape(svc)).samples);
  const fresh = await exchange(svc.port, opts.fresh, keys, { timeoutMs: 10_000 });
  const xAfter = c.measureXact ? await xactPerSec(opts.observer, 2_000) : undefined;
  return {
    route: c.route,
    table: c.table,
    aborted: n,
    blockedSeen,
    before,
    after,
    slotGauge: c.slotGauge,
    leaked: Math.max(0, (after[c.slotGauge] ?? 0) - (before[c.slotGauge] ?? 0)),
    freshStatus: fresh.status,
    freshCode: fresh.code,
    dbXactPerSecBefore: xBefore,
    dbXactPerSecAfter: xAfter,
  };
}
