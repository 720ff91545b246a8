import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import type { LlmConfig } from '../config/load.js';
import type { CoreDeps, Feature } from '../feature.js';
import { redactUrl } from '../log/logger.js';
import { untilAborted } from '../time/clock.js';
import { traceHeaders } from '../tracing/spans.js';
import { createUpstreamServer } from '../upstream/server.js';
import { chatOpener } from './chat-transport.js';
import { checkDevUpstreamMode, chooseResumeMode, createAdapter, type ModeChoice } from './modes.js';
import type { ResumeMode, UpstreamAdapter } from './upstream.js';

export interface Llm {
  readonly client: OpenAI;
  readonly model: string;
  /** `dev` when the built-in deterministic upstream answers. */
  readonly upstream: 'dev' | 'external';
  /** How a takeover continues a stream with this upstream (LLM_RESUME_MODE, or the upstream's default). */
  readonly mode: ResumeMode;
  /** Streams answers in that mode: starts them, continues them from a log, cancels them. */
  readonly adapter: UpstreamAdapter;
}

/**
 * The OpenAI-compatible client every feature uses. Its sockets live in one undici Agent we own,
 * so `release` can close the upstream connections instead of leaving them to the process exit.
 */
export async function createLlmFeature(deps: CoreDeps, config: LlmConfig): Promise<Feature & { readonly llm: Llm }> {
  const { logger } = deps;
  // Refused before anything starts: the dev upstream has no Responses API.
  if (!config.baseUrl) checkDevUpstreamMode(config.resumeMode);
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: config.maxConnections });
  let baseURL = config.baseUrl;
  let devServer: ReturnType<typeof createUpstreamServer> | undefined;
  if (!baseURL) {
    devServer = createUpstreamServer({ tokensPerSecond: config.devTokensPerSecond });
    baseURL = await devServer.listen();
    logger.warn(
      { upstream: 'dev', tokensPerSecond: config.devTokensPerSecond },
      'OPENAI_BASE_URL unset: using the built-in dev upstream (deterministic text, not a real model)',
    );
  } else {
    logger.info({ upstream: redactUrl(baseURL), model: config.model }, 'using OpenAI-compatible upstream');
  }
  const client = new OpenAI({
    baseURL,
    apiKey: config.apiKey ?? 'unused-by-dev-upstream',
    maxRetries: 2,
    timeout: 120_000,
    // Every upstream call carries the trace it is part of (W3C traceparent), so a provider that
    // traces too shows its side under the stream's trace.
    fetch: ((url: string, init?: RequestInit) => {
      const headers: Record<string, string> = { ...Object.fromEntries(new Headers(init?.headers)), ...traceHeaders() };
      return undiciFetch(url, { ...(init as object), headers, dispatcher: agent });
    }) as unknown as typeof fetch,
  });
  const upstream = devServer ? 'dev' : 'external';
  let choice: ModeChoice;
  try {
    choice = await chooseResumeMode({ configured: config.resumeMode, upstream, client, baseUrl: baseURL });
  } catch (err) {
    await agent.destroy();
    await devServer?.close();
    throw err;
  }
  if (choice.warning) logger.warn({ resumeMode: choice.mode }, choice.warning);
  logger.info({ resumeMode: choice.mode, source: choice.source, upstream }, `streams resume in ${choice.mode} mode`);
  const adapter = createAdapter(choice.mode, { client, openChat: chatOpener(client, agent, traceHeaders), model: config.model });
  return {
    name: 'llm',
    llm: { client, model: config.model, upstream, mode: choice.mode, adapter },
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
