import type OpenAI from 'openai';
import { ConfigError } from '../errors/errors.js';
import { redactUrl } from '../log/logger.js';
import { ChatAdapter } from './chat.js';
import type { UpstreamDeps } from './chat-stream.js';
import { statusOf } from './errors.js';
import { ResponsesAdapter } from './responses.js';
import { RestartAdapter } from './restart.js';
import type { ResumeMode, UpstreamAdapter } from './upstream.js';

export type UpstreamKind = 'dev' | 'external';

export interface ModeChoice {
  readonly mode: ResumeMode;
  /** Where it came from: LLM_RESUME_MODE, or the default for the upstream. */
  readonly source: 'configured' | 'default';
  /** A check that could not be made (the upstream did not answer the probe): logged as a warning. */
  readonly warning?: string;
}

/**
 * The default resume mode: the dev upstream continues a trailing assistant message exactly
 * (src/upstream/text.ts); of any other upstream nothing is known, so it regenerates and compares.
 */
export const defaultResumeMode = (upstream: UpstreamKind): ResumeMode => (upstream === 'dev' ? 'trailing' : 'restart');

/**
 * The resume mode for this upstream: the configured one, checked against what the upstream can
 * honour, or the default. Throws a one-line ConfigError for a mode it cannot honour.
 */
export async function chooseResumeMode(opts: {
  readonly configured: ResumeMode | undefined;
  readonly upstream: UpstreamKind;
  readonly client: OpenAI;
  /** For messages. */
  readonly baseUrl: string;
}): Promise<ModeChoice> {
  const { configured, upstream } = opts;
  if (configured === undefined) return { mode: defaultResumeMode(upstream), source: 'default' };
  if (configured !== 'responses') return { mode: configured, source: 'configured' };
  if (upstream === 'dev') {
    checkDevUpstreamMode(configured);
    return { mode: configured, source: 'configured' };
  }
  const probe = await probeResponses(opts.client);
  if (probe.kind === 'missing') {
    throw new ConfigError(
      `LLM_RESUME_MODE=responses: the upstream ${redactUrl(opts.baseUrl)} has no Responses API ` +
        `(POST /responses answered ${probe.status}); choose vllm, prefix, trailing or restart for it`,
    );
  }
  return {
    mode: 'responses',
    source: 'configured',
    ...(probe.kind === 'unknown' && { warning: `could not check that the upstream has a Responses API: ${probe.reason}` }),
  };
}

/** Throws for a mode the built-in dev upstream cannot honour; checked before it starts. */
export function checkDevUpstreamMode(configured: ResumeMode | undefined): void {
  if (configured === 'responses') {
    throw new ConfigError(
      'LLM_RESUME_MODE=responses needs an upstream with the Responses API, and OPENAI_BASE_URL is unset ' +
        '(the built-in dev upstream serves chat completions only): set OPENAI_BASE_URL, or choose trailing',
    );
  }
}

export type ResponsesProbe =
  | { readonly kind: 'exists' }
  | { readonly kind: 'missing'; readonly status: number }
  | { readonly kind: 'unknown'; readonly reason: string };

/**
 * Whether the upstream serves `POST /responses`, without starting a generation: the probe sends a
 * body every implementation must refuse (no `model`, no `input`). A route that exists validates it
 * and answers 400 (OpenAI: "Missing required parameter: 'model'.") or 422 (a FastAPI server's
 * validation error); an unknown route answers 404 (OpenAI's "Invalid URL (POST /v1/responses)", as
 * quoted in https://github.com/QuantumNous/new-api/issues/999; FastAPI's {"detail":"Not Found"}),
 * or 405 where only another method is routed there.
 */
export async function probeResponses(client: OpenAI): Promise<ResponsesProbe> {
  try {
    await client.post('/responses', { body: {}, maxRetries: 0, timeout: 10_000 });
    return { kind: 'exists' };
  } catch (err) {
    const status = statusOf(err);
    if (status === 400 || status === 422) return { kind: 'exists' };
    if (status === 404 || status === 405) return { kind: 'missing', status };
    return {
      kind: 'unknown',
      reason: status === undefined ? (err instanceof Error ? err.message : String(err)) : `POST /responses answered ${status}`,
    };
  }
}

/** The adapter that speaks the mode's protocol. */
export function createAdapter(mode: ResumeMode, deps: UpstreamDeps): UpstreamAdapter {
  switch (mode) {
    case 'responses':
      return new ResponsesAdapter(deps);
    case 'restart':
      return new RestartAdapter(deps);
    default:
      return new ChatAdapter(mode, deps);
  }
}
