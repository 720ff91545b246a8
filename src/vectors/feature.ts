import type { Database } from '../db/database.js';
import type { Embeddings } from '../embeddings/service.js';
import type { Feature } from '../feature.js';
import { mountVectorRoutes } from './routes.js';
import { createVectorSearch, type VectorSearch } from './search.js';
import { VectorStore } from './store.js';

/**
 * Documents and semantic search. Creates the HNSW index for the model's dimension first, so it
 * runs before the public server listens. `search` is what the tasks feature takes as a tool.
 * No shutdown participants: requests finish with the HTTP drain, and the embedding service
 * refuses new work from stop-intake.
 */
export async function createVectorsFeature(db: Database, embeddings: Embeddings): Promise<Feature & { search: VectorSearch['search'] }> {
  const store = new VectorStore(db, embeddings.model, embeddings.dims);
  await store.ensureIndex();
  const vectors = createVectorSearch(embeddings, store);
  return {
    name: 'vectors',
    mount: (api) => mountVectorRoutes(api, vectors),
    participants: [],
    search: vectors.search,
  };
}
