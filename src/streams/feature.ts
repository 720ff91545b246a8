import type { StreamsConfig } from '../config/load.js';
import type { Database } from '../db/database.js';
import type { Notifications } from '../db/notifications.js';
import type { Tombstones } from '../retention/tombstones.js';
import type { IdempotencyKeys } from '../db/idempotency.js';
import type { CoreDeps, Feature } from '../feature.js';
import type { Llm } from '../llm/llm.js';
import type { HttpMetrics } from '../metrics/http.js';
import { mountDemoPage } from '../pages/demo.js';
import { chatCompletionsFormat } from './formats/chat-completions.js';
import { nativeFormat } from './formats/native.js';
import { responsesFormat } from './formats/responses.js';
import { uiMessageFormat } from './formats/ui-message.js';
import { StreamManager } from './manager.js';
import { createStreamMetrics } from './metrics.js';
import { mountStreamRoutes } from './routes.js';
import { ClaimLoop } from '../leases/claim-loop.js';

export interface StreamsDeps extends CoreDeps {
  readonly db: Database;
  readonly notifications: Notifications;
  readonly llm: Llm;
  readonly httpMetrics: HttpMetrics;
  readonly idempotency: IdempotencyKeys;
  /** Answers 410 for a stream retention deleted. */
  readonly tombstones: Tombstones;
}

/**
 * Durable, resumable streams: lastcall's own API (`POST /v1/chat/stream`, `GET` and `DELETE
 * /v1/streams/:id`), the demo page at `/`, and the service every other front door starts and
 * resumes its streams through (`manager`).
 */
export function createStreamsFeature(deps: StreamsDeps, config: StreamsConfig): Feature & { readonly manager: StreamManager } {
  const logger = deps.logger.child({ feature: 'streams' });
  const manager = new StreamManager({
    db: deps.db,
    notifications: deps.notifications,
    adapter: deps.llm.adapter,
    logger,
    metrics: createStreamMetrics(deps.registry),
    httpMetrics: deps.httpMetrics,
    drain: deps.drain,
    replica: deps.replica,
    leaseSeconds: config.leaseSeconds,
    maxConcurrent: config.maxConcurrent,
    perKeyMax: config.perKeyMax,
    persist: config.persist,
    logFormat: config.logFormat,
    idempotency: deps.idempotency,
    tombstones: deps.tombstones,
    formats: {
      native: nativeFormat,
      chat_completions: chatCompletionsFormat,
      responses: responsesFormat,
      ai_sdk: uiMessageFormat,
    },
  });
  const worker = new ClaimLoop({
    claimAll: async () => {
      while (await manager.adoptDetached());
    },
    nextExpiry: () => manager.nextDetachedExpiry(),
    notifications: deps.notifications,
    channel: 'lastcall_stream_free',
    leasedChannel: 'lastcall_stream_leased',
    leaseSeconds: config.leaseSeconds,
    replica: deps.replica,
    logger,
    what: 'detached streams',
  });
  // Room freed here: a detached stream released while this replica was full announced itself then.
  manager.onRoomFreed(() => worker.wake());
  // Claim only once this replica serves: a replica still starting (or never ready) takes no work.
  const unsubscribe = deps.drain.onChange((state) => {
    if (state === 'serving') worker.start();
    else unsubscribe();
  });
  return {
    name: 'streams',
    manager,
    mount(api, app) {
      mountDemoPage(app);
      mountStreamRoutes(api, manager);
    },
    participants: [
      {
        name: 'streams:stop-claiming',
        phase: 'stop-intake',
        async close() {
          worker.stop();
          return manager.counts();
        },
      },
      {
        name: 'streams:drain',
        phase: 'drain',
        close: async (deadline) => {
          await manager.whenQuiet(deadline.signal);
          return manager.counts();
        },
      },
      { name: 'streams:handoff', phase: 'handoff', close: (deadline) => manager.handoff(deadline) },
    ],
  };
}
