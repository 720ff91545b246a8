import { badRequest } from '../errors/errors.js';
import type { Embeddings } from '../embeddings/service.js';
import type { SearchResult, VectorStore } from './store.js';

export interface DocumentInput {
  readonly id: string;
  readonly text: string;
  readonly metadata?: Record<string, unknown> | undefined;
}

/** Most results one search returns. */
export const MAX_K = 100;

export interface VectorSearch {
  /** Embeds and stores documents under `owner`; replaces those whose id exists. */
  upsert(owner: string, docs: readonly DocumentInput[]): Promise<{ inserted: number; updated: number }>;
  /** The owner's `k` documents most similar to `query` (cosine), best first. */
  search(owner: string, query: string, k: number): Promise<SearchResult[]>;
}

/** Semantic search over an owner's documents: the embedding model in front of the vector store. */
export function createVectorSearch(embeddings: Embeddings, store: VectorStore): VectorSearch {
  return {
    async upsert(owner, docs) {
      const seen = new Set<string>();
      for (const d of docs) {
        if (seen.has(d.id)) throw badRequest('duplicate_id', `document id ${JSON.stringify(d.id)} appears twice in one request`);
        seen.add(d.id);
      }
      const { vectors } = await embeddings.embed(
        docs.map((d) => d.text),
        { list: 'documents', item: (i) => `documents[${i}].text` },
      );
      return store.upsert(
        owner,
        docs.map((d, i) => ({ id: d.id, text: d.text, metadata: d.metadata ?? {}, embedding: vectors[i]! })),
      );
    },
    async search(owner, query, k) {
      if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw badRequest('invalid_k', `k must be an integer from 1 to ${MAX_K}`);
      const { vectors } = await embeddings.embed([query], { list: 'query', item: () => 'query' });
      return store.nearest(owner, vectors[0]!, k);
    },
  };
}
