import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import lockfile from 'proper-lockfile';
import type { DatabaseConfig } from '../config/load.js';
import { ConfigError, unavailable } from '../errors/errors.js';
import type { Logger } from '../log/logger.js';
import { redactUrl } from '../log/logger.js';
import type { Deadline } from '../time/clock.js';
import { Quiescence } from '../time/quiescence.js';
import { inSpan } from '../tracing/spans.js';
import { trace } from '@opentelemetry/api';
import type { DatabaseErrorKind, DatabaseMetrics } from './metrics.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Queryable = Pick<pg.PoolClient, 'query'>;

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /**
   * A statement on a connection of its own (PostgreSQL), never queued behind the pool: lease
   * heartbeats, which must land within a lease however busy the replica is.
   */
  heartbeat<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /**
   * Counts `work` as in flight, so `close` waits for it: a caller whose statements come in a row
   * (write, then at once undo) keeps the pool from ending between them.
   */
  hold<T>(work: () => Promise<T>): Promise<T>;
  /** Runs `fn` in one transaction on one client; rolls back on throw. */
  transaction<T>(fn: (client: Queryable) => Promise<T>): Promise<T>;
  /** A transaction without the statement timeouts, for schema work at start-up (migrations, index builds). */
  maintenance<T>(fn: (client: Queryable) => Promise<T>): Promise<T>;
  /**
   * Opens a connection for LISTEN (PostgreSQL: one of its own, outside the pool; PGlite: the
   * embedded instance's in-process notifications). `lost` is called once if it breaks.
   */
  listen(on: NotificationHandlers): Promise<NotificationListener>;
  /** Waits for queries in flight (bounded by the deadline), then ends the pool. */
  close(deadline: Deadline): Promise<{ queriesAbandoned: number }>;
}

export interface NotificationHandlers {
  notification(channel: string, payload: string): void;
  lost(err: Error): void;
}

export interface NotificationListener {
  listen(channel: string): Promise<void>;
  unlisten(channel: string): Promise<void>;
  close(): Promise<void>;
}

const MIGRATION_LOCK = 7_311_001; // advisory lock key shared by every replica

/**
 * PostgreSQL when DATABASE_URL is set; otherwise PGlite (with pgvector) in DATA_DIR behind a
 * node-postgres Pool, so one code path serves both.
 */
export async function openDatabase(
  opts: Omit<DatabaseConfig, 'statementTimeoutMs' | 'connectTimeoutMs'> &
    Partial<Pick<DatabaseConfig, 'statementTimeoutMs' | 'connectTimeoutMs'>> & { logger: Logger; metrics?: DatabaseMetrics },
): Promise<Database> {
  const { logger } = opts;
  let pool: pg.Pool;
  let maintenancePool: pg.Pool;
  let heartbeatPool: pg.Pool;
  let releaseLock: (() => Promise<void>) | undefined;
  let pglite: { close(): Promise<void> } | undefined;
  let listen: Database['listen'];
  if (opts.url) {
    const url = opts.url;
    listen = (on) => listenOnPostgres(url, opts.connectTimeoutMs ?? 5_000, on);
    const statementTimeoutMs = opts.statementTimeoutMs ?? 5_000;
    pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize,
      // Bounds the wait for a connection, also in the queue of a busy pool.
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      statement_timeout: statementTimeoutMs,
      // A server that cannot answer at all (stopped, partitioned) cannot enforce statement_timeout.
      query_timeout: statementTimeoutMs + 2_000,
    });
    maintenancePool = new pg.Pool({ connectionString: opts.url, max: 1 });
    heartbeatPool = new pg.Pool({
      connectionString: opts.url,
      max: 1,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      statement_timeout: statementTimeoutMs,
      query_timeout: statementTimeoutMs + 2_000,
    });
    logger.info({ database: redactUrl(opts.url) }, 'using PostgreSQL');
  } else {
    const dir = path.resolve(opts.dataDir, 'pglite');
    await fs.mkdir(dir, { recursive: true });
    releaseLock = await lockDataDir(dir);
    const { PGlite } = await import('@electric-sql/pglite');
    const { vector } = await import('@electric-sql/pglite-pgvector');
    const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
    const db = await PGlite.create(dir, { extensions: { vector } });
    pglite = db;
    listen = async (on) => {
      // PGlite sends LISTEN/UNLISTEN as given: channel names with ':' must go quoted (and its own
      // unsubscribe function would send them unquoted), so callbacks are kept and removed here.
      const callbacks = new Map<string, (payload: string) => void>();
      return {
        async listen(channel) {
          if (callbacks.has(channel)) return;
          const callback = (payload: string) => on.notification(channel, payload);
          await db.listen(pg.escapeIdentifier(channel), callback);
          callbacks.set(channel, callback);
        },
        async unlisten(channel) {
          const callback = callbacks.get(channel);
          callbacks.delete(channel);
          if (callback) await db.unlisten(pg.escapeIdentifier(channel), callback);
        },
        async close() {
          const all = [...callbacks];
          callbacks.clear();
          await Promise.all(all.map(([channel, callback]) => db.unlisten(pg.escapeIdentifier(channel), callback)));
        },
      };
    };
    pool = new pg.Pool({ ...createPgConfig(db), max: 1 });
    maintenancePool = pool;
    heartbeatPool = pool;
    logger.warn({ dataDir: dir }, 'using embedded PGlite: one replica only; set DATABASE_URL to scale out');
  }
  // An idle client losing its server (PostgreSQL restarted) must not crash the process.
  for (const p of new Set([pool, maintenancePool, heartbeatPool]))
    p.on('error', (err) => logger.warn({ err: err.message }, 'idle database client failed'));

  let inFlight = 0;
  const quiet = new Quiescence(() => inFlight === 0);
  const track = async <T>(work: () => Promise<T>): Promise<T> => {
    inFlight++;
    try {
      return await work();
    } catch (err) {
      const kind = errorKind(err);
      if (!kind) throw err;
      opts.metrics?.errors.inc({ kind });
      // The database refusing a statement is a defect or a conflict worth seeing; outages are
      // counted and answered 503, and would flood the log.
      const detail = { kind, code: (err as { code?: string }).code, err: (err as Error).message };
      if (kind === 'query') logger.warn(detail, 'database refused a statement');
      else logger.debug(detail, 'database call failed');
      // The client can do nothing about it but retry later, on this replica or another.
      if (kind === 'unavailable')
        throw unavailable('storage_unavailable', 'the database is unavailable; retry shortly', 1, { cause: err });
      if (kind === 'timeout')
        throw unavailable('storage_unavailable', 'the database did not answer in time; retry shortly', 1, { cause: err });
      throw err;
    } finally {
      inFlight--;
      quiet.changed();
    }
  };

  const inTransaction = async <T>(from: pg.Pool, fn: (client: Queryable) => Promise<T>): Promise<T> => {
    const client = await from.connect();
    let broken: unknown;
    // pg-pool listens for errors on idle clients only: a checked-out one whose server goes away
    // between statements (PostgreSQL restarted) would emit an unhandled 'error' and crash us.
    const lost = (err: Error) => {
      broken = err;
      logger.warn({ err: err.message }, 'database connection lost inside a transaction');
    };
    client.on('error', lost);
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // A client whose ROLLBACK fails has lost its connection: destroy it rather than reuse it.
      await client.query('ROLLBACK').catch((e: unknown) => (broken = e));
      throw err;
    } finally {
      client.off('error', lost);
      client.release(broken as Error | undefined);
    }
  };
  // A span per database call, but only inside a traced operation (a stream, a task step, a
  // request): the batch writer's timer-driven writes would otherwise be a span every 50 ms.
  const traced = <T>(name: string, sql: string | undefined, work: () => Promise<T>): Promise<T> =>
    trace.getActiveSpan()
      ? inSpan(
          name,
          { attributes: { 'db.system.name': 'postgresql', ...(sql && { 'db.operation.name': operationOf(sql) }) } },
          work,
        )
      : work();
  const database: Database = {
    kind: opts.url ? 'postgres' : 'pglite',
    query: (text, params) => track(() => traced('db.query', text, () => pool.query(text, params))),
    heartbeat: (text, params) => track(() => heartbeatPool.query(text, params)),
    hold: (work) => track(work),
    transaction: (fn) => track(() => traced('db.transaction', undefined, () => inTransaction(pool, fn))),
    maintenance: (fn) => track(() => inTransaction(maintenancePool, fn)),
    listen: (on) => listen(on),
    async close(deadline) {
      // pg's Pool.end() drops queries still waiting for a client without settling them, so
      // callers stop first and we only end the pool once nothing is in flight (or time is up).
      await quiet.wait(deadline.signal);
      const abandoned = inFlight;
      await pool.end();
      for (const other of [maintenancePool, heartbeatPool]) if (other !== pool) await other.end();
      await pglite?.close();
      await releaseLock?.();
      return { queriesAbandoned: abandoned };
    },
  };
  try {
    await migrate(database, logger);
  } catch (err) {
    await pool.end().catch(() => undefined);
    for (const other of [maintenancePool, heartbeatPool]) if (other !== pool) await other.end().catch(() => undefined);
    await pglite?.close().catch(() => undefined);
    await releaseLock?.();
    throw err;
  }
  return database;
}

/** A client of its own (a pooled one would be handed to queries), listening until it breaks or is closed. */
async function listenOnPostgres(url: string, connectTimeoutMs: number, on: NotificationHandlers): Promise<NotificationListener> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: connectTimeoutMs,
    // A partitioned server never says goodbye: keepalives notice the dead connection (in minutes,
    // with the kernel's probe settings); until then waiters still look at their safety-net pace.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // A LISTEN a stalled server never answers breaks the connection, which is then reopened.
    query_timeout: 5_000,
  });
  let closing = false;
  let failed = false;
  const fail = (err: Error) => {
    if (closing || failed) return;
    failed = true;
    on.lost(err);
    void client.end().catch(() => undefined);
  };
  client.on('error', fail);
  client.on('end', () => fail(new Error('listening connection ended')));
  client.on('notification', (n) => on.notification(n.channel, n.payload ?? ''));
  await client.connect();
  return {
    async listen(channel) {
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    },
    async unlisten(channel) {
      await client.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`);
    },
    async close() {
      closing = true;
      await client.end().catch(() => undefined);
    },
  };
}

/** The statement's first keyword (SELECT, UPDATE, WITH…): what a span may say of it without its data. */
function operationOf(sql: string): string {
  return /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? 'SQL';
}

/**
 * What went wrong, if it was the database: an error the server sent (`query`; SQLSTATE 57014,
 * statement_timeout, is a `timeout`; classes 08 and 57P mean the connection is gone), or the
 * driver giving up on the server (`unavailable`, or `timeout` waiting for a connection or an
 * answer). Errors our own code throws inside a transaction (a lost lease) are not the database's.
 */
function errorKind(err: unknown): DatabaseErrorKind | undefined {
  if (err instanceof pg.DatabaseError) {
    if (err.code === '57014') return 'timeout';
    if (err.code?.startsWith('08') || err.code?.startsWith('57P')) return 'unavailable';
    return 'query';
  }
  const e = err as { code?: string; message?: string } | null;
  const message = e?.message ?? '';
  if (/timeout exceeded when trying to connect|Query read timeout/i.test(message)) return 'timeout';
  if (/^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)$/.test(e?.code ?? ''))
    return 'unavailable';
  if (/Connection terminated|Client was closed|Client has encountered a connection error|not queryable/i.test(message))
    return 'unavailable';
  return undefined;
}

async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  try {
    return await lockfile.lock(dir, {
      lockfilePath: `${dir}.lock`,
      stale: 10_000,
      retries: 0,
      onCompromised: (err) => {
        // Another process took the directory: writing on would corrupt it silently.
        process.stderr.write(`fatal: embedded database lock lost: ${err.message}\n`);
        process.exit(1);
      },
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new ConfigError(
        `DATA_DIR ${dir} is in use by another lastcall process; embedded PGlite serves one process only — ` +
          'set DATABASE_URL to a PostgreSQL with pgvector to run several replicas',
      );
    }
    throw err;
  }
}

async function migrate(db: Database, logger: Logger, migrations: readonly Migration[] = MIGRATIONS) {
  const applied = await db.maintenance(async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set((await c.query<{ id: number }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id));
    const pending = migrations.filter((m) => !done.has(m.id));
    for (const m of pending) {
      await c.query(m.sql);
      await c.query('INSERT INTO schema_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
    }
    return pending.map((m) => m.name);
  });
  if (applied.length) logger.info({ applied }, 'database migrated');
}
