import type { VectorsConfig } from '../config/load.js';
import type { Database } from '../db/database.js';
import type { Embeddings } from '../embeddings/service.js';
import type { CoreDeps, Feature } from '../feature.js';
import { mountVectorRoutes } from './routes.js';
import { createVectorSearch, type VectorSearch } from './search.js';
import { VectorStore } from './store.js';

export interface VectorsDeps extends CoreDeps {
  readonly db: Database;
  readonly embeddings: Embeddings;
}

/**
 * Documents and semantic search. Creates the HNSW index for the model's dimension first, so it
 * runs before the public server listens. `search` is what the tasks feature takes as a tool.
 * No shutdown participants: requests finish with the HTTP drain, and the embedding service
 * refuses new work from stop-intake.
 */
export async function createVectorsFeature(
  deps: VectorsDeps,
  config: VectorsConfig,
): Promise<Feature & { readonly search: VectorSearch['search'] }> {
  const store = new VectorStore(deps.db, deps.embeddings.model, deps.embeddings.dims, config.perKeyMaxDocuments);
  await store.ensureIndex();
  const vectors = createVectorSearch(deps.embeddings, store);
  return {
    name: 'vectors',
    mount: (api) => mountVectorRoutes(api, vectors),
    participants: [],
    search: (owner, query, k) => vectors.search(owner, query, k),
  };
}
