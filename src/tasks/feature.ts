import type { TasksConfig } from '../config/load.js';
import type { Database } from '../db/database.js';
import type { Notifications } from '../db/notifications.js';
import type { IdempotencyKeys } from '../db/idempotency.js';
import type { CoreDeps, Feature } from '../feature.js';
import type { Llm } from '../llm/llm.js';
import type { HttpMetrics } from '../metrics/http.js';
import type { Tombstones } from '../retention/tombstones.js';
import { createTaskMetrics } from './metrics.js';
import { TaskEvents } from './events.js';
import { mountTaskRoutes } from './routes.js';
import type { SearchFn } from './steps.js';
import { TaskStore } from './store.js';
import { TaskWorker } from './worker.js';

export interface TasksDeps extends CoreDeps {
  readonly db: Database;
  readonly notifications: Notifications;
  readonly llm: Llm;
  readonly httpMetrics: HttpMetrics;
  /** `Idempotency-Key` on POST /v1/tasks. */
  readonly idempotency: IdempotencyKeys;
  /** Vector search over the owner's documents; without it, search steps record that they were skipped. */
  readonly search?: SearchFn;
  /** Answers 410 for a task retention deleted. */
  readonly tombstones: Tombstones;
}

/** Durable multi-step agent tasks: the /v1/tasks API, the lease-holding worker, and their shutdown. */
export function createTasksFeature(deps: TasksDeps, config: TasksConfig): Feature {
  const logger = deps.logger.child({ feature: 'tasks' });
  const metrics = createTaskMetrics(deps.registry);
  const store = new TaskStore(deps.db, deps.replica, config.leaseSeconds, config.perKeyMax);
  const worker = new TaskWorker({
    store,
    llm: deps.llm,
    search: deps.search,
    metrics,
    logger,
    concurrency: config.concurrency,
    notifications: deps.notifications,
  });
  const events = new TaskEvents(store, deps.notifications, logger, {
    maxOpen: config.maxEventStreams,
    refused: () => deps.httpMetrics.rejected.inc({ reason: 'too_many_task_event_streams' }),
    opened: (count) => metrics.eventStreams.set(count),
  });
  // Claim only once this replica serves: a replica still starting (or never ready) takes no work.
  const unsubscribe = deps.drain.onChange((state) => {
    if (state === 'serving') worker.start();
    else unsubscribe();
  });

  return {
    name: 'tasks',
    mount: (api) =>
      mountTaskRoutes(api, { store, worker, events, metrics, idempotency: deps.idempotency, tombstones: deps.tombstones }),
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
