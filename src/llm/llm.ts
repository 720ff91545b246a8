import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Config } from '../config/load.js';
import { untilAborted } from '../drain/clock.js';
import type { Participant } from '../drain/types.js';
import type { Logger } from '../log/logger.js';
import { redactUrl } from '../log/logger.js';
import { createUpstreamServer } from '../upstream/server.js';

export interface Llm {
  readonly client: OpenAI;
  readonly model: string;
  /** `dev` when the built-in deterministic upstream answers. */
  readonly upstream: 'dev' | 'external';
  readonly participants: readonly Participant[];
}

/**
 * The OpenAI-compatible client every feature uses. Its sockets live in one undici Agent we own,
 * so `release` can close the upstream connections instead of leaving them to the process exit.
 */
export async function createLlm(config: Config, logger: Logger): Promise<Llm> {
  // One upstream connection per stream being generated, plus task steps, so the cap on streams
  // (not this pool) is what limits concurrency.
  const agent = new Agent({
    keepAliveTimeout: 30_000,
    connections: config.MAX_CONCURRENT_STREAMS + config.TASK_WORKER_CONCURRENCY * 2 + 16,
  });
  let baseURL = config.OPENAI_BASE_URL;
  let devServer: ReturnType<typeof createUpstreamServer> | undefined;
  if (!baseURL) {
    devServer = createUpstreamServer({ tokensPerSecond: config.DEV_UPSTREAM_TOKENS_PER_SECOND });
    baseURL = await devServer.listen();
    logger.warn(
      { upstream: 'dev', tokensPerSecond: config.DEV_UPSTREAM_TOKENS_PER_SECOND },
      'OPENAI_BASE_URL unset: using the built-in dev upstream (deterministic text, not a real model)',
    );
  } else {
    logger.info({ upstream: redactUrl(baseURL), model: config.LLM_MODEL }, 'using OpenAI-compatible upstream');
  }
  const client = new OpenAI({
    baseURL,
    apiKey: config.OPENAI_API_KEY ?? 'unused-by-dev-upstream',
    maxRetries: 2,
    timeout: 120_000,
    fetch: ((url: string, init?: RequestInit) =>
      undiciFetch(url, { ...(init as object), dispatcher: agent } as Parameters<typeof undiciFetch>[1])) as unknown as typeof fetch,
  });
  return {
    client,
    model: config.LLM_MODEL,
    upstream: devServer ? 'dev' : 'external',
    participants: [
      {
        name: 'llm:upstream-sockets',
        phase: 'release',
        async close(deadline) {
          // Nothing should be in flight by now; destroy rather than wait past the deadline.
          const closing = agent.close();
          await Promise.race([closing, untilAborted(deadline.signal)]);
          if (deadline.signal.aborted) await agent.destroy();
          await devServer?.close();
        },
      },
    ],
  };
}
