import type { Registry } from 'prom-client';
import type { Config } from '../config/load.js';
import type { Database } from '../db/database.js';
import type { DrainState } from '../drain/types.js';
import type { Feature } from '../feature.js';
import type { Llm } from '../llm/llm.js';
import type { Logger } from '../log/logger.js';
import type { HttpMetrics } from '../metrics/http.js';
import { createStreamMetrics } from '../metrics/streams.js';
import { mountDemoPage } from '../pages/demo.js';
import { StreamManager } from './manager.js';
import { mountStreamRoutes } from './routes.js';

/** Resumable LLM streams (`POST /v1/chat/stream`, `GET /v1/streams/:id`) and the demo page at `/`. */
export function createStreamsFeature(opts: {
  config: Config;
  db: Database;
  llm: Llm;
  logger: Logger;
  registry: Registry;
  httpMetrics: HttpMetrics;
  drain: DrainState;
}): Feature {
  const manager = new StreamManager({
    db: opts.db,
    llm: opts.llm,
    logger: opts.logger.child({ feature: 'streams' }),
    metrics: createStreamMetrics(opts.registry),
    httpMetrics: opts.httpMetrics,
    drain: opts.drain,
    replica: opts.config.REPLICA_ID,
    leaseSeconds: opts.config.TASK_LEASE_SECONDS,
    maxConcurrent: opts.config.MAX_CONCURRENT_STREAMS,
  });
  return {
    name: 'streams',
    mount(api, app) {
      mountDemoPage(app);
      mountStreamRoutes(api, app, manager);
    },
    participants: manager.participants,
  };
}
