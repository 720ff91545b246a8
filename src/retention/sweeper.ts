import type { Database } from '../db/database.js';
import { LeaseTable } from '../leases/table.js';
import type { Logger } from '../log/logger.js';
import { sleep, systemClock, untilAborted, type Deadline } from '../time/clock.js';
import type { RetentionMetrics } from './metrics.js';

/**
 * Rows per statement. Deleting a stream cascades to its log, so a batch of streams can be tens of
 * thousands of rows: small batches keep each statement's locks and WAL burst short, and the
 * rows are picked with SKIP LOCKED so replicas sweeping at once never wait on each other.
 */
const BATCH = 20;
const KEY_BATCH = 500;
/** Between batches, so a large backlog is worked off without starving the service's own writes. */
const PAUSE_MS = 20;
const FIRST_SWEEP_MS = 10_000;

/** What one sweep deletes, in order: each statement returns how many rows it removed. */
const STATEMENTS = {
  // A stream still `generating` with nobody holding it and untouched for a whole retention
  // period was released and never resumed: nobody will come back for it either.
  streams: `WITH gone AS (
      SELECT id, owner FROM streams
      WHERE updated_at < now() - make_interval(secs => $1) AND (status <> 'generating' OR ${LeaseTable.FREE})
      ORDER BY updated_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED),
    tomb AS (INSERT INTO expired (kind, id, owner) SELECT 'stream', id, owner FROM gone ON CONFLICT DO NOTHING)
    DELETE FROM streams s USING gone WHERE s.id = gone.id RETURNING s.id`,
  tasks: `WITH gone AS (
      SELECT id, owner FROM tasks
      WHERE updated_at < now() - make_interval(secs => $1) AND status IN ('completed', 'failed', 'cancelled')
      ORDER BY updated_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED),
    tomb AS (INSERT INTO expired (kind, id, owner) SELECT 'task', id, owner FROM gone ON CONFLICT DO NOTHING)
    DELETE FROM tasks t USING gone WHERE t.id = gone.id RETURNING t.id`,
  idempotency_keys: `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1) LIMIT ${KEY_BATCH}))
    RETURNING key`,
  tombstones: `DELETE FROM expired WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM expired WHERE expired_at < now() - make_interval(secs => $1) LIMIT ${KEY_BATCH}))
    RETURNING id`,
} as const;
export type SweptKind = keyof typeof STATEMENTS;
export const SWEPT_KINDS = Object.keys(STATEMENTS) as SweptKind[];

/**
 * Deletes what outlived the retention period: finished streams with their logs, finished tasks
 * with their steps, idempotency keys, and (one period later) the tombstones that answer 410.
 * Every replica sweeps on its own schedule; the statements make that safe.
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private readonly stopped = new AbortController();

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    private readonly metrics: RetentionMetrics,
    private readonly opts: { readonly retentionMs: number; readonly intervalMs: number },
  ) {}

  start(): void {
    if (this.stopped.signal.aborted || this.timer) return;
    // The first sweep soon after start-up (a replica may not live a whole interval), then every interval.
    this.schedule(Math.min(this.opts.intervalMs, FIRST_SWEEP_MS));
  }

  private schedule(ms: number): void {
    // Jitter, so replicas started together do not sweep together.
    this.timer = setTimeout(
      () => {
        this.sweeping = this.sweep().finally(() => {
          this.sweeping = undefined;
          if (!this.stopped.signal.aborted) this.schedule(this.opts.intervalMs);
        });
      },
      ms * (0.75 + Math.random() * 0.5),
    );
    this.timer.unref();
  }

  /** One full sweep: every kind until a batch comes back short. */
  async sweep(): Promise<void> {
    const started = performance.now();
    const deleted: Partial<Record<SweptKind, number>> = {};
    try {
      for (const kind of SWEPT_KINDS) {
        for (;;) {
          if (this.stopped.signal.aborted) return;
          const { rowCount } = await this.db.query(STATEMENTS[kind], [this.opts.retentionMs / 1000]);
          const n = rowCount ?? 0;
          if (n > 0) {
            this.metrics.deleted.inc({ kind }, n);
            deleted[kind] = (deleted[kind] ?? 0) + n;
          }
          if (n < (kind === 'streams' || kind === 'tasks' ? BATCH : KEY_BATCH)) break;
          await sleep(systemClock, PAUSE_MS, this.stopped.signal).catch(() => undefined);
        }
      }
      this.metrics.lastSweep.setToCurrentTime();
      if (Object.keys(deleted).length > 0) {
        this.logger.info({ deleted, ms: Math.round(performance.now() - started) }, 'retention sweep deleted expired rows');
      }
    } catch (err) {
      // The next sweep retries; nothing is lost by sweeping late.
      this.logger.warn({ err: (err as Error).message, deleted }, 'retention sweep failed');
    }
  }

  /** Stops scheduling and waits (to the deadline) for a sweep in progress to finish its statement. */
  async close(deadline: Deadline): Promise<{ interrupted: boolean }> {
    this.stopped.abort();
    clearTimeout(this.timer);
    const running = this.sweeping;
    if (!running) return { interrupted: false };
    await Promise.race([running, untilAborted(deadline.signal)]);
    return { interrupted: this.sweeping !== undefined };
  }
}
