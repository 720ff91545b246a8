import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import lockfile from 'proper-lockfile';
import { ConfigError } from '../errors/errors.js';
import type { Logger } from '../log/logger.js';
import { redactUrl } from '../log/logger.js';
import type { Deadline } from '../time/clock.js';
import { Quiescence } from '../time/quiescence.js';
import type { DatabaseErrorKind, DatabaseMetrics } from './metrics.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Queryable = Pick<pg.PoolClient, 'query'>;

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  /** Runs `fn` in one transaction on one client; rolls back on throw. */
  transaction<T>(fn: (client: Queryable) => Promise<T>): Promise<T>;
  /** Waits for queries in flight (bounded by the deadline), then ends the pool. */
  close(deadline: Deadline): Promise<{ queriesAbandoned: number }>;
}

const MIGRATION_LOCK = 7_311_001; // advisory lock key shared by every replica

/**
 * PostgreSQL when DATABASE_URL is set; otherwise PGlite (with pgvector) in DATA_DIR behind a
 * node-postgres Pool, so one code path serves both.
 */
export async function openDatabase(opts: {
  url: string | undefined;
  dataDir: string;
  poolSize: number;
  logger: Logger;
  metrics?: DatabaseMetrics;
}): Promise<Database> {
  const { logger } = opts;
  let pool: pg.Pool;
  let releaseLock: (() => Promise<void>) | undefined;
  let pglite: { close(): Promise<void> } | undefined;
  if (opts.url) {
    pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize, connectionTimeoutMillis: 5_000 });
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
    pool = new pg.Pool({ ...createPgConfig(db), max: 1 });
    logger.warn({ dataDir: dir }, 'using embedded PGlite: one replica only; set DATABASE_URL to scale out');
  }
  // An idle client losing its server (PostgreSQL restarted) must not crash the process.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'idle database client failed'));

  let inFlight = 0;
  const quiet = new Quiescence(() => inFlight === 0);
  const track = async <T>(work: () => Promise<T>): Promise<T> => {
    inFlight++;
    try {
      return await work();
    } catch (err) {
      opts.metrics?.errors.inc({ kind: errorKind(err) });
      throw err;
    } finally {
      inFlight--;
      quiet.changed();
    }
  };

  const database: Database = {
    kind: opts.url ? 'postgres' : 'pglite',
    query: (text, params) => track(() => pool.query(text, params)),
    transaction: (fn) =>
      track(async () => {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const result = await fn(client);
          await client.query('COMMIT');
          return result;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        } finally {
          client.release();
        }
      }),
    async close(deadline) {
      // pg's Pool.end() drops queries still waiting for a client without settling them, so
      // callers stop first and we only end the pool once nothing is in flight (or time is up).
      await quiet.wait(deadline.signal);
      const abandoned = inFlight;
      await pool.end();
      await pglite?.close();
      await releaseLock?.();
      return { queriesAbandoned: abandoned };
    },
  };
  try {
    await migrate(database, logger);
  } catch (err) {
    await pool.end().catch(() => undefined);
    await pglite?.close().catch(() => undefined);
    await releaseLock?.();
    throw err;
  }
  return database;
}

/** SQLSTATE classes and driver messages that mean the server could not be used at all. */
function errorKind(err: unknown): DatabaseErrorKind {
  const e = err as { code?: string; message?: string };
  if (e.code === '57014' || /timeout/i.test(e.message ?? '')) return 'timeout';
  if (e.code?.startsWith('08') || e.code?.startsWith('57P') || /ECONNREFUSED|ECONNRESET|Connection terminated|connect/i.test(`${e.code} ${e.message}`)) {
    return 'unavailable';
  }
  return 'query';
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
  const applied = await db.transaction(async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
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
