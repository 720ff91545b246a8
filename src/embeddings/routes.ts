import type { Router } from 'express';
import { z } from 'zod';
import { ApiError, badRequest } from '../errors/errors.js';
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

/**
 * `POST /v1/embeddings` in OpenAI's shape (errors too), so OpenAI clients work unchanged: the
 * served model answers to its own name and to `aliases` (EMBEDDING_MODEL_ALIASES, e.g. the
 * `text-embedding-3-small` an OpenAI client sends by default); any other name is OpenAI's 404
 * `model_not_found`.
 */
export function mountEmbeddingRoutes(api: Router, embeddings: Embeddings, aliases: readonly string[] = []): void {
  const served = new Set([embeddings.model, ...aliases]);
  route(api, '/embeddings', {
    async post(req, res) {
      const body = EmbeddingRequest.parse(req.body);
      if (body.model !== undefined && !served.has(body.model)) {
        throw new ApiError(
          404,
          'model_not_found',
          `The model \`${body.model}\` does not exist or you do not have access to it; ` +
            `this service embeds with ${[...served].join(', ')}`,
          {},
          { param: 'model' },
        );
      }
      if (body.dimensions !== undefined && body.dimensions !== embeddings.dims) {
        throw badRequest('unsupported_dimensions', `dimensions must be ${embeddings.dims} for ${embeddings.model}`, 'dimensions');
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
