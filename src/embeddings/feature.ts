import type { EmbeddingsConfig } from '../config/load.js';
import type { CoreDeps, Feature } from '../feature.js';
import { createEmbeddingMetrics } from './metrics.js';
import { locateModel } from './location.js';
import { mountEmbeddingRoutes } from './routes.js';
import { createEmbeddingService, type Embeddings } from './service.js';
import { loadEmbeddingModelOnThread } from './threaded-model.js';

export interface EmbeddingsDeps extends CoreDeps {
  /** The model's thread died while serving: the replica cannot embed until it restarts. */
  onModelFailure(err: Error): void;
}

/**
 * `POST /v1/embeddings` and the in-process embedding API other features use. The model is loaded
 * (on a thread of its own) before anything else touches the disk, so a missing or corrupt model
 * exits 1 without touching DATA_DIR.
 */
export async function createEmbeddingsFeature(
  deps: EmbeddingsDeps,
  config: EmbeddingsConfig,
): Promise<Feature & { readonly service: Embeddings }> {
  const model = await loadEmbeddingModelOnThread(locateModel(config.modelDir), { onFailure: (err) => deps.onModelFailure(err) });
  const service = createEmbeddingService({ model, metrics: createEmbeddingMetrics(deps.registry), logger: deps.logger });
  return {
    name: 'embeddings',
    service,
    mount: (api) => mountEmbeddingRoutes(api, service, config.aliases),
    openAiPaths: ['/v1/embeddings'],
    participants: [
      {
        name: 'embeddings:drain',
        phase: 'drain',
        async close(deadline) {
          const atStart = service.inFlight;
          await service.whenIdle(deadline.signal);
          return { textsAtStart: atStart, textsAbandoned: service.inFlight };
        },
      },
      {
        // New API requests are refused from stop-intake by the HTTP layer; in-process work stays
        // open through drain because a task finishing its current step may still search.
        name: 'embeddings:close',
        phase: 'handoff',
        async close() {
          service.close();
          return { textsInFlight: service.inFlight };
        },
      },
      {
        name: 'embeddings:release',
        phase: 'release',
        async close(deadline) {
          await service.whenIdle(deadline.signal);
          return service.dispose();
        },
      },
    ],
  };
}
