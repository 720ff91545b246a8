import type { Router } from 'express';
import { z } from 'zod';
import { ownerOf } from '../http/auth.js';
import { route } from '../http/routes.js';
import { metadata, text } from '../http/validate.js';
import { MAX_K, type VectorSearch } from './search.js';

const DocumentsRequest = z.object({
  documents: z
    .array(
      z.object({
        id: text({ max: 256, nonBlank: true }),
        // Texts are checked with the embedding model's limits (embeddings/limits.ts).
        text: z.string(),
        metadata: metadata.optional(),
      }),
    )
    .min(1, 'must contain at least one document'),
});

const SearchRequest = z.object({
  query: z.string(),
  k: z.number().int().min(1).max(MAX_K).default(10),
});

/** `POST /v1/documents` (upsert) and `POST /v1/search`, scoped to the caller's key. */
export function mountVectorRoutes(api: Router, vectors: VectorSearch): void {
  route(api, '/documents', {
    async post(req, res) {
      const { documents } = DocumentsRequest.parse(req.body);
      const counts = await vectors.upsert(ownerOf(res), documents);
      res.json({ object: 'list', ...counts });
    },
  });
  route(api, '/search', {
    async post(req, res) {
      const { query, k } = SearchRequest.parse(req.body);
      res.json({ object: 'list', results: await vectors.search(ownerOf(res), query, k) });
    },
  });
}
