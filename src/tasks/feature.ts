import type { Registry } from 'prom-client';
import type { Database } from '../db/database.js';
import type { DrainState } from '../drain/types.js';
import type { Feature } from '../feature.js';
import type { Llm } from '../llm/llm.js';
import type { Logger } from '../log/logger.js';
import type { HttpMetrics } from '../metrics/http.js';
import { createTaskMetrics } from '../metrics/tasks.js';
import { TaskEvents } from './events.js';
import { mountTaskRoutes } from './routes.js';
import type { SearchFn } from './steps.js';
import { TaskStore } from './store.js';
import { TaskWorker } from './worker.js';

export interface TasksFeatureOptions {
  readonly db: Database;
  readonly llm: Llm;
  readonly drain: DrainState;
  readonly registry: Registry;
  readonly logger: Logger;
  readonly replica: string;
  readonly leaseSeconds: number;
  readonly concurrency: number;
  /** Progress event streams (`GET /v1/tasks/:id/events`) open at once; each polls the database. */
  readonly maxEventStreams: number;
  readonly httpMetrics: HttpMetrics;
  /** Vector search over the owner's documents; without it, search steps record that they were skipped. */
  readonly search?: SearchFn;
}

/** Durable multi-step agent tasks: the /v1/tasks API, the lease-holding worker, and their shutdown. */
export function createTasksFeature(opts: TasksFeatureOptions): Feature {
  const logger = opts.logger.child({ feature: 'tasks' });
  const metrics = createTaskMetrics(opts.registry);
  const store = new TaskStore(opts.db, opts.replica, opts.leaseSeconds);
  const worker = new TaskWorker({
    store,
    llm: opts.llm,
    search: opts.search,
    metrics,
    logger,
    concurrency: opts.concurrency,
    leaseSeconds: opts.leaseSeconds,
  });
  const events = new TaskEvents(store, logger, {
    maxOpen: opts.maxEventStreams,
    refused: () => opts.httpMetrics.rejected.inc({ reason: 'too_many_task_event_streams' }),
    opened: (count) => metrics.eventStreams.set(count),
  });
  // Claim only once this replica serves: a replica still starting (or never ready) takes no work.
  const unsubscribe = opts.drain.onChange((state) => {
    if (state === 'serving') worker.start();
    else unsubscribe();
  });

  return {
    name: 'tasks',
    mount: (api) => mountTaskRoutes(api, { store, worker, events, metrics }),
    participants: [
      {
        name: 'tasks:stop-claiming',
        phase: 'stop-intake',
        async close() {
          worker.stopClaiming();
          return { running: worker.running };
        },
      },
      { name: 'tasks:drain', phase: 'drain', close: (deadline) => worker.drain(deadline) },
      { name: 'tasks:handoff', phase: 'handoff', close: (deadline) => worker.handoff(deadline) },
      { name: 'tasks:event-streams', phase: 'handoff', close: async () => ({ streamsEnded: events.endAll() }) },
    ],
  };
}
