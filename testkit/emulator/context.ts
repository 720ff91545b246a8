import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import type { z } from 'zod';
import type { EmulatorConfig } from './config.js';
import type { Faults } from './faults.js';
import type { History } from './history.js';
import { sendJson } from './http.js';
import { PROFILES, type ErrorDetail, type Profile } from './profiles.js';

/** What every endpoint handler shares with the server. */
export interface EmulatorContext {
  readonly config: EmulatorConfig;
  readonly faults: Faults;
  readonly history: History;
  /** Aborts when the emulator closes, so background work stops with it. */
  readonly closing: AbortSignal;
}

export const profileOf = (ctx: EmulatorContext): Profile => PROFILES[ctx.config.profile];

export function sendError(ctx: EmulatorContext, res: http.ServerResponse, status: number, message: string, detail?: ErrorDetail) {
  sendJson(res, status, profileOf(ctx).error(status, message, detail));
}

/** Turns the first schema issue into the provider's 400, naming the parameter like OpenAI does. */
export function sendInvalid(ctx: EmulatorContext, res: http.ServerResponse, error: z.ZodError) {
  const issue = error.issues[0];
  const param = (issue?.path ?? []).reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    '',
  );
  const missing = issue?.code === 'invalid_type' && /received undefined/.test(issue.message);
  const message = missing
    ? `Missing required parameter: '${param}'.`
    : `Invalid value for '${param}': ${issue?.message ?? 'invalid'}.`;
  sendError(ctx, res, 400, message, { param: param || null, code: missing ? 'missing_required_parameter' : 'invalid_value' });
}

/** OpenAI answers an unknown model with 404 model_not_found (https://platform.openai.com/docs/guides/error-codes). */
export function checkModel(ctx: EmulatorContext, res: http.ServerResponse, model: string): boolean {
  if (ctx.config.models.includes(model)) return true;
  const message = `The model \`${model}\` does not exist or you do not have access to it.`;
  sendError(ctx, res, 404, message, { param: 'model', code: 'model_not_found' });
  return false;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export const randomId = (prefix: string, length: number) =>
  prefix + Array.from(randomBytes(length), (b) => ALPHABET[b % ALPHABET.length]).join('');

export const hexId = (prefix: string, bytes: number) => prefix + randomBytes(bytes).toString('hex');
