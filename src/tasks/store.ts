import { randomBytes } from 'node:crypto';
import type { Database, Queryable } from '../db/database.js';
import { QUOTA_LOCKS, withinQuota, type Quota } from '../db/quota.js';
import { LeaseTable, type ClaimVia } from '../leases/table.js';
import { traceparentOf, tracer } from '../tracing/spans.js';
import type { CommittedStep, StepKind, StepOutput } from './plan.js';
import type { TaskStatus } from './state.js';

/**
 * Every SQL statement about tasks. The queue is a lease table we own instead of pg-boss: we need
 * leases of a few seconds with a heartbeat, a release at handoff that another replica claims at
 * once, per-step checkpoints fenced by an epoch, and the same SQL on PGlite and PostgreSQL.
 * pg-boss 12's shortest heartbeat is 10 s, it finds stale jobs in a 60 s supervise pass, and it
 * needs Node ≥ 22.12 — none of which fits a 15 s lease and a sub-second handoff.
 *
 * Every write by a lease holder is fenced by (epoch, lease_holder, status = 'running'): a
 * replica that lost its lease, or whose task was cancelled, changes nothing.
 */
export interface TaskRow {
  readonly id: string;
  readonly owner: string;
  readonly prompt: string;
  readonly max_steps: number;
  readonly status: TaskStatus;
  readonly epoch: number;
  readonly attempts: number;
  readonly result: unknown;
  readonly error: string | null;
  readonly created_at: Date;
  readonly updated_at: Date;
}

export interface StepRow {
  readonly idx: number;
  readonly kind: StepKind;
  readonly output: StepOutput;
  readonly replica: string;
  readonly epoch: number;
  readonly created_at: Date;
}

/** A claimed task: the epoch that fences our writes, what is committed, and how we got it. */
export interface ClaimedTask {
  readonly task: TaskRow & { readonly trace: { readonly root?: string; readonly last?: string } | null };
  readonly epoch: number;
  readonly steps: CommittedStep[];
  readonly via: ClaimVia | undefined;
}

/** The fence on a lease-holder write: no row matched, so the lease (or the task) is gone. */
export class LeaseLost extends Error {
  override name = 'LeaseLost';
  constructor(readonly taskId: string) {
    super(`lease on task ${taskId} lost (taken over, expired or cancelled)`);
  }
}

/** 144 random bits: ids are unguessable, and ownership is checked on every read anyway. */
export const newTaskId = () => `task_${randomBytes(18).toString('base64url')}`;
const TASK_ID = /^task_[A-Za-z0-9_-]{24}$/;
export const isTaskId = (id: string) => TASK_ID.test(id);

const TASK_COLUMNS = 'id, owner, prompt, max_steps, status, epoch, attempts, result, error, created_at, updated_at';
/** Assignments that leave a finished task unleased. */
const RELEASED = 'lease_holder = NULL, lease_expires_at = NULL';

export class TaskStore {
  readonly leases: LeaseTable;
  private readonly fence: string;

  private readonly quota: Quota;

  constructor(
    private readonly db: Database,
    private readonly replica: string,
    private readonly leaseSeconds: number,
    perKeyMax: number,
  ) {
    this.leases = new LeaseTable(db, { table: 'tasks', activeStatus: 'running' }, replica, leaseSeconds);
    this.fence = this.leases.fence(1, 2, 3);
    this.quota = {
      lock: QUOTA_LOCKS.tasks,
      what: 'queued or running tasks',
      max: perKeyMax,
      retryAfterSeconds: 5,
      count: async (c, owner) =>
        (
          await c.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM tasks WHERE owner = $1 AND status IN ('queued', 'running')`,
            [owner],
          )
        ).rows[0]!.n,
    };
  }

  /**
   * Queues a task, within the owner's quota of queued and running tasks. `also` runs in the same
   * transaction with the new id (an idempotency key recorded with it).
   */
  async create(
    owner: string,
    prompt: string,
    maxSteps: number,
    also?: (c: Queryable, id: string) => Promise<void>,
  ): Promise<string> {
    const id = newTaskId();
    // The task's trace: a root span under the request's, stored so every run of it joins the trace.
    const root = tracer.startSpan('task', { attributes: { 'lastcall.task.id': id } });
    const parent = traceparentOf(root);
    root.end();
    await withinQuota(this.db, this.quota, owner, 1, async (c) => {
      await c.query(`INSERT INTO tasks (id, owner, prompt, max_steps, status, trace) VALUES ($1, $2, $3, $4, 'queued', $5)`, [
        id,
        owner,
        prompt,
        maxSteps,
        parent ? JSON.stringify({ root: parent }) : null,
      ]);
      await also?.(c, id);
    });
    return id;
  }

  /** Records the run span of the replica that holds the task now, for the next one to link to. */
  async noteTrace(id: string, epoch: number, last: string): Promise<void> {
    await this.db.query(
      `UPDATE tasks SET trace = jsonb_set(coalesce(trace, '{}'::jsonb), '{last}', to_jsonb($4::text)) WHERE ${this.fence}`,
      [id, epoch, this.replica, last],
    );
  }

  /** The task if `owner` owns it; another owner's task looks exactly like a missing one. */
  async get(id: string, owner: string): Promise<TaskRow | undefined> {
    const r = await this.db.query<TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1 AND owner = $2`, [id, owner]);
    return r.rows[0];
  }

  async steps(id: string, after = -1, limit = 100): Promise<StepRow[]> {
    const r = await this.db.query<StepRow>(
      `SELECT idx, kind, output, replica, epoch, created_at FROM task_steps
       WHERE task_id = $1 AND idx > $2 ORDER BY idx LIMIT $3`,
      [id, after, limit],
    );
    return r.rows;
  }

  /** Cancels a queued or running task; returns false when it was already final (or not ours). */
  async cancel(id: string, owner: string): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE tasks SET status = 'cancelled', lease_holder = NULL, lease_expires_at = NULL, updated_at = now()
       WHERE id = $1 AND owner = $2 AND status IN ('queued', 'running')`,
      [id, owner],
    );
    return r.rowCount === 1;
  }

  /**
   * Takes a task nobody holds (never leased, released at a handoff, or whose holder stopped
   * heartbeating), fairly across keys: each key's oldest free task is a candidate, and the key
   * with the fewest tasks running now goes first, so one key's backlog cannot starve the others.
   * SKIP LOCKED lets replicas claim side by side without waiting on each other; bumping the
   * epoch fences off whoever held it before.
   */
  async claim(): Promise<ClaimedTask | undefined> {
    return this.db.transaction(async (c) => {
      const r = await c.query<ClaimedTask['task'] & { prev_released_by: string | null; prev_holder: string | null }>(
        `WITH candidates AS (
           SELECT DISTINCT ON (owner) id, owner, created_at FROM tasks
           WHERE status IN ('queued', 'running') AND ${LeaseTable.FREE}
           ORDER BY owner, created_at
         ),
         busy AS (
           SELECT owner, count(*) AS running FROM tasks
           WHERE status = 'running' AND lease_holder IS NOT NULL AND lease_expires_at >= now()
             AND owner IN (SELECT owner FROM candidates)
           GROUP BY owner
         ),
         free AS (
           SELECT t.id, t.released_by, t.lease_holder FROM tasks t
           JOIN candidates c ON c.id = t.id LEFT JOIN busy b ON b.owner = c.owner
           WHERE t.status IN ('queued', 'running') AND ${LeaseTable.FREE}
           ORDER BY coalesce(b.running, 0), c.created_at
           FOR UPDATE OF t SKIP LOCKED LIMIT 1
         )
         UPDATE tasks t SET ${LeaseTable.take(1, 2)}, status = 'running'
         FROM free WHERE t.id = free.id
         RETURNING t.id, t.owner, t.prompt, t.max_steps, t.status, t.epoch, t.attempts, t.result, t.error, t.trace,
           t.created_at, t.updated_at, free.released_by AS prev_released_by, free.lease_holder AS prev_holder`,
        [this.replica, this.leaseSeconds],
      );
      const row = r.rows[0];
      if (!row) return undefined;
      const steps = await c.query<StepRow>('SELECT idx, kind, output FROM task_steps WHERE task_id = $1 ORDER BY idx', [row.id]);
      const { prev_released_by, prev_holder, ...task } = row;
      return {
        task,
        epoch: task.epoch,
        steps: steps.rows.map((s) => ({ index: s.idx, kind: s.kind, output: s.output })),
        via: LeaseTable.via({ releasedBy: prev_released_by, holder: prev_holder }),
      };
    });
  }

  /**
   * Commits one step in one transaction: the fenced task update first (it locks the row and
   * proves the lease), then the step keyed by (task, index) — a re-run after a crash can never
   * record it twice. The last step also completes the task with its result.
   */
  async checkpoint(id: string, epoch: number, step: CommittedStep, input: unknown, result?: unknown): Promise<void> {
    await this.db.transaction(async (c) => {
      const done = result !== undefined;
      const u = await c.query(
        `UPDATE tasks SET attempts = 0, updated_at = now(),
         ${done ? `status = 'completed', result = $4, ${RELEASED}` : `lease_expires_at = ${LeaseTable.expiry(4)}`}
         WHERE ${this.fence}`,
        [id, epoch, this.replica, done ? JSON.stringify(result) : this.leaseSeconds],
      );
      if (u.rowCount !== 1) throw new LeaseLost(id);
      await insertStep(c, id, epoch, this.replica, step, input);
    });
  }

  /** Counts a failed attempt at the current step; returns the count so far. */
  async recordAttempt(id: string, epoch: number): Promise<number> {
    const r = await this.db.query<{ attempts: number }>(
      `UPDATE tasks SET attempts = attempts + 1, updated_at = now() WHERE ${this.fence} RETURNING attempts`,
      [id, epoch, this.replica],
    );
    const row = r.rows[0];
    if (!row) throw new LeaseLost(id);
    return row.attempts;
  }

  async fail(id: string, epoch: number, error: string): Promise<void> {
    const r = await this.db.query(
      `UPDATE tasks SET status = 'failed', error = $4, ${RELEASED}, updated_at = now() WHERE ${this.fence}`,
      [id, epoch, this.replica, error.slice(0, 2000)],
    );
    if (r.rowCount !== 1) throw new LeaseLost(id);
  }
}

function insertStep(c: Queryable, id: string, epoch: number, replica: string, step: CommittedStep, input: unknown) {
  return c.query(
    `INSERT INTO task_steps (task_id, idx, kind, input, output, replica, epoch) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (task_id, idx) DO NOTHING`,
    [id, step.index, step.kind, JSON.stringify(input), JSON.stringify(step.output), replica, epoch],
  );
}
