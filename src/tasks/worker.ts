import type { Deadline } from '../time/clock.js';
import { sleep, systemClock } from '../time/clock.js';
import { Quiescence } from '../time/quiescence.js';
import type { Llm } from '../llm/llm.js';
import type { Logger } from '../log/logger.js';
import type { TaskMetrics } from './metrics.js';
import { planSteps, stepRequest } from './plan.js';
import { MAX_STEP_ATTEMPTS, retryDelayMs } from './state.js';
import { runStep, stepInput, type SearchFn } from './steps.js';
import { context, trace } from '@opentelemetry/api';
import type { Notifications } from '../db/notifications.js';
import { ClaimLoop } from '../leases/claim-loop.js';
import { LeaseKeeper, type LeaseLoss } from '../leases/keeper.js';
import { continueTrace, inSpan, traceparentOf } from '../tracing/spans.js';
import { LeaseLost, type ClaimedTask, type TaskStore } from './store.js';

export interface TaskWorkerOptions {
  readonly store: TaskStore;
  readonly llm: Llm;
  readonly search: SearchFn | undefined;
  readonly metrics: TaskMetrics;
  readonly logger: Logger;
  readonly concurrency: number;
  readonly notifications: Notifications;
}

/** Why a running task stops before its end: shutdown hands it off, or it is no longer ours. */
type StopReason = 'handoff' | LeaseLoss | 'cancelled';

interface Run {
  readonly abort: AbortController;
}

/**
 * Claims tasks up to the concurrency limit and runs them step by step, checkpointing each step
 * before the next begins. Shutdown: stop claiming; in `drain` each task finishes its current step
 * and gives its lease back at once; in `handoff` steps still running are aborted and released.
 */
export class TaskWorker {
  private readonly runs = new Map<string, Run>();
  private readonly quiet = new Quiescence(() => this.runs.size === 0);
  /** Cuts retry backoffs short once draining, so a retrying task is released at once. */
  private readonly drainSignal = new AbortController();
  private claiming = false;
  private released = 0;
  private readonly keeper: LeaseKeeper;
  private readonly claims: ClaimLoop;

  constructor(private readonly opts: TaskWorkerOptions) {
    this.keeper = new LeaseKeeper(opts.store.leases, opts.logger);
    this.claims = new ClaimLoop({
      claimAll: () => this.claimAll(),
      nextExpiry: () => opts.store.leases.nextExpiry(),
      notifications: opts.notifications,
      channel: 'lastcall_task_free',
      leasedChannel: 'lastcall_task_leased',
      leaseSeconds: opts.store.leases.leaseSeconds,
      replica: opts.store.leases.replica,
      logger: opts.logger,
      what: 'tasks',
    });
  }

  get running(): number {
    return this.runs.size;
  }

  start(): void {
    if (this.claiming || this.drainSignal.signal.aborted) return;
    this.claiming = true;
    this.claims.start();
  }

  stopClaiming(): void {
    this.claiming = false;
    this.claims.stop();
  }

  /** Stops this replica's run of a task that was just cancelled, without waiting for a heartbeat. */
  cancelLocal(id: string): void {
    this.runs.get(id)?.abort.abort('cancelled' satisfies StopReason);
  }

  /** `drain`: let current steps finish, then each task releases its lease; waits for that. */
  async drain(deadline: Deadline): Promise<{ handedOff: number; stillRunning: number }> {
    this.stopClaiming();
    this.drainSignal.abort();
    const before = this.released;
    await this.quiet.wait(deadline.signal);
    return { handedOff: this.released - before, stillRunning: this.runs.size };
  }

  /** `handoff`: abort steps still running (they re-run from the last checkpoint elsewhere). */
  async handoff(deadline: Deadline): Promise<{ handedOff: number; notReleased: number }> {
    this.stopClaiming();
    this.drainSignal.abort();
    const before = this.released;
    for (const run of this.runs.values()) run.abort.abort('handoff' satisfies StopReason);
    await this.quiet.wait(deadline.signal);
    return { handedOff: this.released - before, notReleased: this.runs.size };
  }

  private async claimAll(): Promise<void> {
    while (this.claiming && this.runs.size < this.opts.concurrency) {
      const lease = await this.opts.store.claim();
      if (!lease) return;
      this.begin(lease);
    }
  }

  private begin(lease: ClaimedTask): void {
    const { metrics, logger } = this.opts;
    const id = lease.task.id;
    const run: Run = { abort: new AbortController() };
    this.runs.set(id, run);
    metrics.active.inc();
    if (lease.via) {
      metrics.recovered.inc({ via: lease.via });
      logger.info({ taskId: id, via: lease.via, epoch: lease.epoch, fromStep: lease.steps.length }, 'task recovered');
    }
    void this.execute(lease, run)
      .catch((err) => logger.error({ taskId: id, err: (err as Error).message }, 'task run failed unexpectedly'))
      .finally(() => {
        this.runs.delete(id);
        metrics.active.dec();
        this.quiet.changed();
        // Room freed here: tasks queued while this replica was full announced themselves then.
        this.claims.wake();
      });
  }

  private async execute(lease: ClaimedTask, run: Run): Promise<void> {
    const { store } = this.opts;
    const { task, epoch, steps } = lease;
    this.keeper.hold({ id: task.id, epoch }, (why) => run.abort.abort(why satisfies StopReason));
    // This replica's run, in the task's trace, linked to the run before it (a handoff or an expiry).
    const span = continueTrace(
      'task.run',
      { 'lastcall.task.id': task.id, 'lastcall.task.from_step': steps.length, 'lastcall.takeover.via': lease.via ?? 'fresh' },
      task.trace,
    );
    const last = traceparentOf(span);
    if (last) void store.noteTrace(task.id, epoch, last).catch(() => undefined);
    try {
      await context.with(trace.setSpan(context.active(), span), () => this.steps(lease, run));
    } finally {
      span.end();
      this.keeper.drop(task.id);
    }
  }

  /** Runs the task's remaining steps, checkpointing each; hands it back when stopped. */
  private async steps(lease: ClaimedTask, run: Run): Promise<void> {
    const { store, metrics, logger } = this.opts;
    const { task, epoch, steps } = lease;
    const signal = run.abort.signal;
    try {
      const kinds = planSteps(task.prompt, task.max_steps);
      // A claim taken just as intake stopped is handed straight back, like any drained task.
      while (steps.length < kinds.length && !signal.aborted && !this.drainSignal.signal.aborted) {
        const index = steps.length;
        const kind = kinds[index]!;
        const req = stepRequest(task.prompt, kind, steps);
        const started = performance.now();
        const last = index === kinds.length - 1;
        let step;
        try {
          const output = await inSpan(
            'task.step',
            { attributes: { 'lastcall.task.step': index, 'lastcall.task.kind': kind } },
            () => runStep(req, { llm: this.opts.llm, search: this.opts.search, owner: task.owner }, signal),
          );
          step = { index, kind, output };
          await store.checkpoint(task.id, epoch, step, stepInput(req), last ? output : undefined);
        } catch (err) {
          if (err instanceof LeaseLost) throw err;
          if (signal.aborted) break;
          const attempts = await store.recordAttempt(task.id, epoch);
          const message = (err as Error).message;
          if (attempts >= MAX_STEP_ATTEMPTS) {
            await store.fail(task.id, epoch, `step ${index} (${kind}) failed ${attempts} times: ${message}`);
            metrics.total.inc({ outcome: 'failed' });
            logger.warn({ taskId: task.id, step: index, attempts, err: message }, 'task failed');
            return;
          }
          logger.info({ taskId: task.id, step: index, attempts, err: message }, 'task step failed; retrying');
          await sleep(systemClock, retryDelayMs(attempts), AbortSignal.any([signal, this.drainSignal.signal]));
          continue;
        }
        steps.push(step);
        metrics.checkpoints.inc();
        metrics.stepDuration.observe({ kind }, (performance.now() - started) / 1000);
        if (last) {
          metrics.total.inc({ outcome: 'completed' });
          logger.debug({ taskId: task.id, steps: steps.length }, 'task completed');
          return;
        }
      }
      const reason = signal.aborted ? (signal.reason as StopReason) : 'handoff';
      if (reason === 'handoff') await this.giveBack(task.id, epoch, steps.length);
      else logger.info({ taskId: task.id, reason }, 'task stopped on this replica');
    } catch (err) {
      if (!(err instanceof LeaseLost)) throw err;
      logger.info({ taskId: task.id }, err.message);
    }
  }

  private async giveBack(id: string, epoch: number, committed: number): Promise<void> {
    if (!(await this.opts.store.leases.release({ id, epoch }))) return;
    this.released++;
    this.opts.metrics.handoffs.inc();
    this.opts.logger.info({ taskId: id, committedSteps: committed }, 'task released for handoff');
  }
}
