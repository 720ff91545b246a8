import { z } from 'zod';
import { PROFILE_NAMES, type ProfileName } from './profiles.js';

/** Everything that can change at run time through `POST /__emulator/config`. */
export interface EmulatorConfig {
  profile: ProfileName;
  tokensPerSecond: number;
  /** Natural answer length range, in tokens, before any max-tokens cap. */
  minTokens: number;
  maxTokens: number;
  /** Served model names; the first is the default in listings. */
  models: string[];
  /** The model thinks by default (llama.cpp with a reasoning template, deepseek-reasoner). */
  thinking: boolean;
  /** Chance that tool_choice "auto" with tools yields a tool call instead of text. */
  toolCallProbability: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`. */
  apiKey: string | null;
  /** Stored Responses expire this long after they finish. */
  responseTtlSeconds: number;
  maxStoredResponses: number;
}

export const DEFAULT_CONFIG: EmulatorConfig = {
  profile: 'openai',
  tokensPerSecond: 50,
  minTokens: 40,
  maxTokens: 400,
  models: ['emulated-model'],
  thinking: false,
  toolCallProbability: 0.3,
  apiKey: null,
  // OpenAI keeps background responses for roughly 10 minutes (https://platform.openai.com/docs/guides/background).
  responseTtlSeconds: 600,
  maxStoredResponses: 1000,
};

export const configPatch = z
  .object({
    profile: z.enum(PROFILE_NAMES),
    tokensPerSecond: z.number().positive().max(1_000_000),
    minTokens: z.number().int().min(1),
    maxTokens: z.number().int().min(1),
    models: z.array(z.string().min(1)).min(1),
    thinking: z.boolean(),
    toolCallProbability: z.number().min(0).max(1),
    apiKey: z.string().min(1).nullable(),
    responseTtlSeconds: z.number().positive(),
    maxStoredResponses: z.number().int().min(1),
  })
  .partial()
  .strict();

/** Applies a patch, refusing one that would leave the length range inverted. */
export function applyConfig(config: EmulatorConfig, patch: z.infer<typeof configPatch>): EmulatorConfig {
  const given = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
  const next = { ...config, ...given };
  if (next.minTokens > next.maxTokens) throw new Error(`minTokens (${next.minTokens}) exceeds maxTokens (${next.maxTokens})`);
  return Object.assign(config, next);
}
