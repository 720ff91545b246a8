import type { StreamsConfig } from '../config/load.js';
import type { Database } from '../db/database.js';
import type { CoreDeps, Feature } from '../feature.js';
import type { Llm } from '../llm/llm.js';
import type { HttpMetrics } from '../metrics/http.js';
import { createStreamMetrics } from './metrics.js';
import { mountDemoPage } from '../pages/demo.js';
import { StreamManager } from './manager.js';
import { mountStreamRoutes } from './routes.js';

/** Resumable LLM streams (`POST /v1/chat/stream`, `GET /v1/streams/:id`) and the demo page at `/`. */
export interface StreamsDeps extends CoreDeps {
  readonly db: Database;
  readonly llm: Llm;
  readonly httpMetrics: HttpMetrics;
}

export function createStreamsFeature(deps: StreamsDeps, config: StreamsConfig): Feature {
  const manager = new StreamManager({
    db: deps.db,
    llm: deps.llm,
    logger: deps.logger.child({ feature: 'streams' }),
    metrics: createStreamMetrics(deps.registry),
    httpMetrics: deps.httpMetrics,
    drain: deps.drain,
    replica: deps.replica,
    leaseSeconds: config.leaseSeconds,
    maxConcurrent: config.maxConcurrent,
    perKeyMax: config.perKeyMax,
  });
  return {
    name: 'streams',
    mount(api, app) {
      mountDemoPage(app);
      mountStreamRoutes(api, app, manager);
    },
    participants: [
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
