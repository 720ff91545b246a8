import type { Router } from 'express';
import { route } from '../http/routes.js';
import { modelNotFound } from './errors.js';

/** The models this service answers to, as `GET /v1/models` lists them. */
export class ServedModels {
  private readonly all: readonly string[];

  constructor(
    /** LLM_MODEL: the one chat model. */
    readonly chat: string,
    /** The embedding model's name and its aliases (EMBEDDING_MODEL_ALIASES). */
    readonly embedding: readonly string[],
  ) {
    this.all = [...new Set([chat, ...embedding])];
  }

  /** The chat model a request names, or OpenAI's 404 `model_not_found`. */
  chatModel(model: string): string {
    if (model !== this.chat) throw modelNotFound(model, [this.chat]);
    return model;
  }

  ids(): readonly string[] {
    return this.all;
  }
}

/**
 * OpenAI's model object (https://platform.openai.com/docs/api-reference/models/object). `created`
 * is 0 (unknown): the same on every replica, whenever it started.
 */
const modelObject = (id: string) => ({ id, object: 'model', created: 0, owned_by: 'lastcall' });

/** `GET /v1/models` and `GET /v1/models/{id}`: the chat model and the embedding model's names. */
export function mountModelRoutes(api: Router, models: ServedModels): void {
  route(api, '/models', {
    get: (_req, res) => void res.json({ object: 'list', data: models.ids().map(modelObject) }),
  });
  route(api, '/models/:id', {
    get: (req, res) => {
      const id = String(req.params.id);
      if (!models.ids().includes(id)) throw modelNotFound(id, models.ids());
      res.json(modelObject(id));
    },
  });
}
