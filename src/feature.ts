import type { Express, Router } from 'express';
import type { Participant } from './drain/types.js';

/**
 * What each feature module (streams, tasks, embeddings, vectors) hands the composition root:
 * its routes and its part in the shutdown sequence.
 */
export interface Feature {
  readonly name: string;
  /** Mounts routes: `api` is /v1 behind auth and JSON parsing; `app` is the root (demo page). */
  mount?(api: Router, app: Express): void;
  readonly participants: readonly Participant[];
}
