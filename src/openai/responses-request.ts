import { z } from 'zod';
import { text } from '../http/validate.js';
import type { ChatMessage } from '../llm/upstream.js';
import { LIMITS, type StreamRequest } from '../streams/protocol.js';
import { unsupported } from './errors.js';

/** Set, and not null (OpenAI's clients send null for "not given"). */
const given = <T>(v: T | null | undefined): v is T => v !== null && v !== undefined;

/** OpenAI's metadata: at most 16 pairs, keys up to 64 characters, values up to 512 (strings). */
const metadata = z
  .record(text({ max: 64 }), text({ max: 512 }))
  .refine((m) => Object.keys(m).length <= 16, 'at most 16 key-value pairs');

const part = z.object({ type: z.string(), text: z.string().optional() }).superRefine((p, ctx) => {
  if (p.type !== 'input_text' && p.type !== 'output_text' && p.type !== 'text') {
    ctx.addIssue({ code: 'custom', path: ['type'], message: `content parts of type ${p.type} are not supported; only text` });
  } else if (p.text === undefined) ctx.addIssue({ code: 'custom', path: ['text'], message: 'a text part needs its text' });
});

const content = z
  .union([z.string(), z.array(part).min(1)], { error: 'must be a string or an array of input_text parts' })
  .transform((c) => (typeof c === 'string' ? c : c.map((p) => p.text ?? '').join('')))
  .pipe(text({ max: LIMITS.maxMessageChars, nonBlank: true }));

/** An input item: a message (`type` may be left out, as OpenAI's easy input messages do). */
const inputItem = z.object({
  type: z.literal('message', { error: 'only message input items are supported' }).optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer'], { error: 'role must be user, assistant, system or developer' }),
  content,
});

/**
 * `POST /v1/responses` (https://platform.openai.com/docs/api-reference/responses/create), the
 * text-only subset lastcall generates: fields it cannot honour (tools, previous_response_id) are
 * refused naming the parameter; other OpenAI fields are accepted and not used.
 */
export const responseRequest = z.object({
  model: text({ max: 256, nonBlank: true }),
  input: z.union([text({ max: LIMITS.maxMessageChars, nonBlank: true }), z.array(inputItem).min(1).max(LIMITS.maxMessages)], {
    error: 'must be a string or an array of input messages',
  }),
  instructions: text({ max: LIMITS.maxMessageChars }).nullish(),
  max_output_tokens: z.number().int().min(1).max(LIMITS.maxTokens).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stream: z.boolean().nullish(),
  background: z.boolean().nullish(),
  store: z.boolean().nullish(),
  metadata: metadata.nullish(),
  user: text({ max: 256 }).nullish(),
  tools: z.array(z.unknown()).nullish(),
  previous_response_id: z.string().nullish(),
});

export type ResponseRequest = z.infer<typeof responseRequest>;

/** What the stream stores and generates from; throws OpenAI's 400 for what cannot be honoured. */
export function responseStreamRequest(r: ResponseRequest): StreamRequest {
  const background = r.background ?? false;
  const store = r.store ?? true;
  // OpenAI: background mode needs the response stored (https://platform.openai.com/docs/guides/background).
  if (background && !store) throw unsupported('store', 'Background mode requires store=true.');
  if (r.tools && r.tools.length > 0)
    throw unsupported('tools', 'tools are not supported on /v1/responses; use /v1/chat/completions');
  if (r.previous_response_id)
    throw unsupported('previous_response_id', 'previous_response_id is not supported; send the conversation as input');
  const conversation: ChatMessage[] =
    typeof r.input === 'string'
      ? [{ role: 'user', content: r.input }]
      : r.input.map((m) => ({ role: m.role, content: m.content }));
  // Every upstream reads a leading system message; the response object shows `instructions` as given.
  const messages: ChatMessage[] = r.instructions ? [{ role: 'system', content: r.instructions }, ...conversation] : conversation;
  return {
    messages,
    max_tokens: r.max_output_tokens ?? LIMITS.maxTokens,
    model: r.model,
    ...(given(r.temperature) && { temperature: r.temperature }),
    ...(given(r.top_p) && { top_p: r.top_p }),
    ...(given(r.user) && { user: r.user }),
    responses: {
      background,
      store,
      metadata: r.metadata ?? {},
      ...(given(r.instructions) && { instructions: r.instructions }),
    },
  };
}
