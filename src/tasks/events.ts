import type { Response } from 'express';
import { sleep, systemClock } from '../time/clock.js';
import { tooManyRequests } from '../errors/errors.js';
import { markObserver } from '../http/connections.js';
import { EventStream, sseEvent } from '../http/sse.js';
import type { Logger } from '../log/logger.js';
import { isFinal } from './state.js';
import type { StepRow, TaskStore } from './store.js';
import { stepView } from './view.js';

const POLL_MS = 150;
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
    private readonly logger: Logger,
    private readonly limit: { readonly maxOpen: number; refused(): void; opened(count: number): void },
  ) {}

  async serve(res: Response, task: { id: string; owner: string }, after: number): Promise<void> {
    // Each open stream polls the database every POLL_MS: their number is what bounds that load.
    if (this.open.size >= this.limit.maxOpen) {
      this.limit.refused();
      throw tooManyRequests(`this replica is sending ${this.limit.maxOpen} task event streams (MAX_CONCURRENT_STREAMS)`, 1);
    }
    markObserver(res);
    const stream = new EventStream(res);
    if (stream.closed) return;
    stream.open(RETRY_AFTER_MS);
    const closed = new AbortController();
    const unsubscribe = stream.onClose(() => closed.abort());
    let last = after;
    const send = (event: string, data: unknown, id?: number) => stream.write(sseEvent(event, data, id));
    const shutdown = () => {
      send('end', {
        reason: 'server_shutdown',
        resumable: true,
        task_id: task.id,
        last_event_id: last >= 0 ? last : null,
        retry_after_ms: RETRY_AFTER_MS,
      });
      closed.abort();
    };
    this.open.add(shutdown);
    this.limit.opened(this.open.size);
    try {
      while (!closed.signal.aborted) {
        // Status first, then steps: a final status is committed with (or after) every step, so
        // once it is seen the step query that follows returns all that remain.
        const current = await this.store.get(task.id, task.owner);
        const steps: StepRow[] = await this.store.steps(task.id, last, PAGE);
        for (const s of steps) {
          send('step', stepView(s), s.idx);
          last = s.idx;
        }
        if (!current || (isFinal(current.status) && steps.length < PAGE)) {
          send('done', { status: current?.status ?? 'cancelled', result: current?.result ?? null, error: current?.error ?? undefined });
          break;
        }
        if (steps.length < PAGE) await sleep(systemClock, POLL_MS, closed.signal);
      }
    } catch (err) {
      this.logger.warn({ taskId: task.id, err: (err as Error).message }, 'task event stream failed');
    } finally {
      this.open.delete(shutdown);
      this.limit.opened(this.open.size);
      unsubscribe();
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
