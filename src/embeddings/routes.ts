import type { Router } from 'express';
import { z } from 'zod';
import { badRequest } from '../errors/errors.js';
import { route } from '../http/routes.js';
import { encodeEmbeddingList } from './response.js';
import type { Embeddings } from './service.js';

const EmbeddingRequest = z.object({
  input: z.union([z.string(), z.array(z.string())], { error: 'must be a string or an array of strings' }),
  model: z.string().optional(),
  // The openai SDK asks for base64 unless told otherwise, and decodes it itself.
  encoding_format: z.enum(['float', 'base64']).default('float'),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});

/** `POST /v1/embeddings` in OpenAI's shape, so OpenAI clients work unchanged. */
export function mountEmbeddingRoutes(api: Router, embeddings: Embeddings): void {
  route(api, '/embeddings', {
    async post(req, res) {
      const body = EmbeddingRequest.parse(req.body);
      if (body.model !== undefined && body.model !== embeddings.model) {
        throw badRequest(
          'model_not_found',
          `model ${JSON.stringify(body.model)} is not served here; this replica serves ${embeddings.model}`,
        );
      }
      if (body.dimensions !== undefined && body.dimensions !== embeddings.dims) {
        throw badRequest('unsupported_dimensions', `dimensions must be ${embeddings.dims} for ${embeddings.model}`);
      }
      const texts = typeof body.input === 'string' ? [body.input] : body.input;
      const { vectors, tokens } = await embeddings.embed(texts);
      const promptTokens = tokens.reduce((a, b) => a + b, 0);
      res
        .type('application/json')
        .send(encodeEmbeddingList({ vectors, model: embeddings.model, promptTokens, format: body.encoding_format }));
    },
  });
}
