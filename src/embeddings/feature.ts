import type { Feature } from '../feature.js';
import { mountEmbeddingRoutes } from './routes.js';
import type { EmbeddingService } from './service.js';

export function embeddingsFeature(service: EmbeddingService): Feature {
  return {
    name: 'embeddings',
    mount: (api) => mountEmbeddingRoutes(api, service),
    participants: service.participants,
  };
}
