import type { Response } from 'express';
import { tooManyRequests } from '../errors/errors.js';
import { markObserver } from '../http/connections.js';
import { tailLog, type TailTarget } from '../http/log-tail.js';
import { EventStream, sseFrame } from '../http/sse.js';
import type { Notifications } from '../db/notifications.js';
import type { Logger } from '../log/logger.js';
import { isFinal } from './state.js';
import type { StepRow, TaskRow, TaskStore } from './store.js';
import { stepView } from './view.js';

/** How long an event stream waits for a notification before it reads anyway (one lost, or a deleted task). */
const SAFETY_NET_MS = 2_000;
const PAGE = 50;
/** What a client following an `end` event waits before reconnecting to another replica. */
const RETRY_AFTER_MS = 1_000;

/**
 * A task's progress as SSE, read from the database rather than from the worker, so any replica
 * can serve any task and a reconnect resumes from `Last-Event-ID` (the last step index seen).
 */
export class TaskEvents {
  private readonly open = new Set<() => void>();

  constructor(
    private readonly store: TaskStore,
    private readonly notifications: Notifications,
    private readonly logger: Logger,
    private readonly limit: { readonly maxOpen: number; refused(): void; opened(count: number): void },
  ) {}

  async serve(res: Response, task: { id: string; owner: string }, after: number): Promise<void> {
    // Each open stream reads the database at every step of its task: their number bounds that load.
    if (this.open.size >= this.limit.maxOpen) {
      this.limit.refused();
      throw tooManyRequests(`this replica is sending ${this.limit.maxOpen} task event streams (MAX_CONCURRENT_STREAMS)`, 1);
    }
    markObserver(res);
    const stream = new EventStream(res);
    if (stream.closed) return;
    stream.open(RETRY_AFTER_MS);
    const target = new StepTarget(stream, after);
    const shutdown = () => {
      const last = target.cursor;
      const end = {
        reason: 'server_shutdown',
        resumable: true,
        task_id: task.id,
        last_event_id: last >= 0 ? last : null,
        retry_after_ms: RETRY_AFTER_MS,
      };
      void stream.end(sseFrame(end, { event: 'end' }));
    };
    this.open.add(shutdown);
    this.limit.opened(this.open.size);
    const changed = await this.notifications.subscribe('lastcall_task', task.id);
    try {
      // Status first, then steps: a final status is committed with (or after) every step, so
      // once it is seen the step pages that follow return all that remain.
      const end = await tailLog<TaskRow, StepRow>(
        {
          head: async () => {
            const head = await this.store.get(task.id, task.owner);
            return head && { head };
          },
          page: (cursor, limit) => this.store.steps(task.id, cursor, limit),
          seqOf: (s) => s.idx,
          lastOf: () => undefined,
          finished: (t) => isFinal(t.status),
        },
        target,
        { pageSize: PAGE, waitForMore: (signal) => changed.wait(SAFETY_NET_MS, signal), stopped: () => false },
      );
      if (end.kind === 'finished' || end.kind === 'gone') {
        const current = end.kind === 'finished' ? end.head : undefined;
        stream.write(
          sseFrame(
            {
              status: current?.status ?? 'cancelled',
              result: current?.result ?? null,
              error: current?.error ?? undefined,
            },
            { event: 'done' },
          ),
        );
      }
    } catch (err) {
      this.logger.warn({ taskId: task.id, err: (err as Error).message }, 'task event stream failed');
    } finally {
      changed.close();
      this.open.delete(shutdown);
      this.limit.opened(this.open.size);
      void stream.end();
    }
  }

  /** `handoff`: every open stream gets a resumable `end` event and is closed. */
  endAll(): number {
    const n = this.open.size;
    for (const end of [...this.open]) end();
    return n;
  }
}

/** One client of a task's steps: its cursor is the last step index it was sent. */
class StepTarget implements TailTarget<StepRow> {
  constructor(
    private readonly stream: EventStream,
    public cursor: number,
  ) {}

  get closed(): boolean {
    return this.stream.closed;
  }

  get closedSignal(): AbortSignal {
    return this.stream.closedSignal;
  }

  send(step: StepRow): boolean {
    this.cursor = step.idx;
    return this.stream.write(sseFrame(stepView(step), { event: 'step', id: step.idx }));
  }

  whenWritable(): Promise<void> {
    return this.stream.whenWritable();
  }
}
