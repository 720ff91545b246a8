import type { AiSdkConfig } from '../config/load.js';
import type { Database } from '../db/database.js';
import type { CoreDeps, Feature } from '../feature.js';
import type { StreamManager } from '../streams/manager.js';
import { ChatStreams } from './chats.js';
import { mountAiSdkPage } from './page.js';
import { mountAiSdkRoutes } from './routes.js';

export interface AiSdkDeps extends CoreDeps {
  readonly db: Database;
  /** The stream service: every chat answer is one of its durable streams. */
  readonly manager: StreamManager;
}

/**
 * The AI SDK front door (`/v1/ai-sdk/chat`, its resume and stop endpoints) and the `useChat`
 * page at `/ai-sdk`. Its streams are the stream service's, so caps, per-key quotas, the drain and
 * the handoff are the service's too: it has no shutdown participant of its own.
 */
export function createAiSdkFeature(deps: AiSdkDeps, config: AiSdkConfig): Feature {
  const chats = new ChatStreams(deps.db, config.finishedReplaySeconds);
  const logger = deps.logger.child({ feature: 'ai-sdk' });
  return {
    name: 'ai-sdk',
    mount(api, app) {
      mountAiSdkPage(app);
      mountAiSdkRoutes(api, { manager: deps.manager, chats, logger });
    },
    participants: [],
  };
}
