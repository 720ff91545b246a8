import type { Express, Router } from 'express';
import type { Registry } from 'prom-client';
import type { DrainState, Participant } from './drain/types.js';
import type { Logger } from './log/logger.js';

/**
 * What every feature hands the composition root: its routes, if it has any, and its part in the
 * shutdown sequence. Each is built the same way, `createXFeature(deps, slice)`: `deps` are the
 * core below plus the other features it uses, `slice` its typed part of the configuration.
 */
export interface Feature {
  readonly name: string;
  /** Mounts routes: `api` is /v1 behind auth and JSON parsing; `app` is the root (demo page). */
  mount?(api: Router, app: Express): void;
  readonly participants: readonly Participant[];
  /** Paths spoken in OpenAI's shapes: their errors, whatever raises them, are OpenAI's `{"error":{"message","type","param","code"}}`. */
  readonly openAiPaths?: readonly string[];
}

/** What every feature may use. */
export interface CoreDeps {
  readonly logger: Logger;
  readonly registry: Registry;
  /** The read-only view of the drain; only the composition root can start it. */
  readonly drain: DrainState;
  readonly replica: string;
}
