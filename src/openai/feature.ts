import type { OpenAiConfig } from '../config/load.js';
import type { CoreDeps, Feature } from '../feature.js';
import type { Embeddings } from '../embeddings/service.js';
import type { StreamManager } from '../streams/manager.js';
import { mountChatCompletionRoutes } from './chat-completions.js';
import { mountModelRoutes, ServedModels } from './models.js';
import { mountResponseRoutes } from './responses.js';

export interface OpenAiDeps extends CoreDeps {
  /** The stream service every route here starts, joins, collects and cancels through. */
  readonly manager: StreamManager;
  /** For the embedding model's name in /v1/models (its route is the embeddings feature's). */
  readonly embeddings: Pick<Embeddings, 'model'>;
}

/**
 * The OpenAI-compatible front door: `GET /v1/models`, `POST /v1/chat/completions` and the
 * Responses API, in OpenAI's shapes (errors too), on lastcall's durable streams. It holds
 * nothing of its own at shutdown: its streams are the stream manager's, drained and handed off
 * with every other stream.
 */
export function createOpenAiFeature(deps: OpenAiDeps, config: OpenAiConfig): Feature {
  const models = new ServedModels(config.chatModel, [deps.embeddings.model, ...config.embeddingAliases]);
  return {
    name: 'openai',
    openAiPaths: ['/v1/models', '/v1/chat/completions', '/v1/responses'],
    mount(api) {
      mountModelRoutes(api, models);
      mountChatCompletionRoutes(api, deps.manager, models);
      mountResponseRoutes(api, deps.manager, models);
    },
    participants: [],
  };
}
