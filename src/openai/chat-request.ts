import { z } from 'zod';
import { jsonProblem, text } from '../http/validate.js';
import type { ChatMessage } from '../llm/upstream.js';
import { LIMITS, type StreamRequest } from '../streams/protocol.js';
import { unsupported } from './errors.js';

/** Set, and not null (OpenAI's clients send null for "not given"). */
const given = <T>(v: T | null | undefined): v is T => v !== null && v !== undefined;

/** Bounds on what a tool definition or a tool call may hold: JSON Schemas nest deeper than metadata. */
const TOOL_JSON = Object.freeze({ maxKeys: 256, maxKeyChars: 256, maxDepth: 32, maxBytes: 65_536 });
const MAX_TOOLS = 128;
const MAX_STOPS = 4;

/** JSON the database can store (no NUL, no lone surrogate), checked without recursion. */
const boundedJson = z.unknown().superRefine((v, ctx) => {
  const problem = jsonProblem(v, TOOL_JSON);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const part = z.object({ type: z.string(), text: z.string().optional() }).superRefine((p, ctx) => {
  if (p.type !== 'text') {
    ctx.addIssue({ code: 'custom', path: ['type'], message: `content parts of type ${p.type} are not supported; only text` });
  } else if (p.text === undefined) ctx.addIssue({ code: 'custom', path: ['text'], message: 'a text part needs its text' });
});

/** A message's content: a string, or OpenAI's array of text parts (joined). */
const content = (nonBlank: boolean) =>
  z
    .union([z.string(), z.array(part).min(1)], { error: 'must be a string or an array of text parts' })
    .transform((c) => (typeof c === 'string' ? c : c.map((p) => p.text ?? '').join('')))
    .pipe(text({ max: LIMITS.maxMessageChars, nonBlank }));

const name = text({ max: 64 }).optional();
const functionName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, _ or -');

const toolCall = z.object({
  id: text({ max: 256 }),
  type: z.literal('function'),
  function: z.object({ name: functionName, arguments: text({ max: LIMITS.maxMessageChars }) }),
});

const message = z.discriminatedUnion(
  'role',
  [
    z.object({ role: z.literal('system'), content: content(true), name }),
    z.object({ role: z.literal('developer'), content: content(true), name }),
    z.object({ role: z.literal('user'), content: content(true), name }),
    z.object({
      role: z.literal('assistant'),
      content: content(false).nullish(),
      name,
      tool_calls: z.array(toolCall).max(MAX_TOOLS).optional(),
    }),
    z.object({ role: z.literal('tool'), content: content(false), tool_call_id: text({ max: 256 }) }),
  ],
  { error: 'role must be system, developer, user, assistant or tool' },
);

const tool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: functionName,
    description: text({ max: 8192 }).optional(),
    parameters: boundedJson.optional(),
    strict: z.boolean().nullish(),
  }),
});

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: functionName }) }),
]);

const maxTokens = z.number().int().min(1).max(LIMITS.maxTokens);

/**
 * `POST /v1/chat/completions` (https://platform.openai.com/docs/api-reference/chat/create): what
 * the upstream understands is passed through; fields that would change the answer and cannot be
 * honoured (`n > 1`, `logprobs`, a JSON `response_format`) are refused naming the parameter;
 * other OpenAI fields (penalties, `metadata`, `store`, …) are accepted and not used.
 */
export const chatCompletionRequest = z
  .object({
    model: text({ max: 256, nonBlank: true }),
    messages: z.array(message).min(1).max(LIMITS.maxMessages),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().min(0).max(1).nullish(),
    max_tokens: maxTokens.nullish(),
    max_completion_tokens: maxTokens.nullish(),
    stop: z.union([text({ max: 256 }), z.array(text({ max: 256 })).max(MAX_STOPS)]).nullish(),
    seed: z.number().int().nullish(),
    tools: z.array(tool).max(MAX_TOOLS).nullish(),
    tool_choice: toolChoice.nullish(),
    user: text({ max: 256 }).nullish(),
    n: z.number().int().min(1).nullish(),
    logprobs: z.boolean().nullish(),
    response_format: z.object({ type: z.string() }).passthrough().nullish(),
  })
  .superRefine((r, ctx) => {
    if (r.stream_options && !r.stream) {
      ctx.addIssue({ code: 'custom', path: ['stream_options'], message: 'only allowed when stream is true' });
    }
  });

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequest>;

/** What the stream stores and generates from; throws OpenAI's 400 for what cannot be honoured. */
export function chatStreamRequest(r: ChatCompletionRequest): StreamRequest {
  if ((r.n ?? 1) > 1) throw unsupported('n', 'n > 1 is not supported: lastcall generates one choice per request');
  if (r.logprobs) throw unsupported('logprobs', 'logprobs are not supported');
  if (r.response_format && r.response_format.type !== 'text') {
    throw unsupported('response_format', `response_format ${r.response_format.type} is not supported; only text`);
  }
  const messages: ChatMessage[] = r.messages.map((m) => {
    switch (m.role) {
      case 'assistant':
        return {
          role: 'assistant',
          content: m.content ?? null,
          ...(m.name !== undefined && { name: m.name }),
          ...(m.tool_calls && { tool_calls: m.tool_calls }),
        };
      case 'tool':
        return { role: 'tool', content: m.content, tool_call_id: m.tool_call_id };
      default:
        return { role: m.role, content: m.content, ...(m.name !== undefined && { name: m.name }) };
    }
  });
  const stop = typeof r.stop === 'string' ? [r.stop] : r.stop;
  return {
    messages,
    // Always set (default = the limit) so the memory a generation can hold is bounded.
    max_tokens: r.max_completion_tokens ?? r.max_tokens ?? LIMITS.maxTokens,
    model: r.model,
    ...(given(r.temperature) && { temperature: r.temperature }),
    ...(given(r.top_p) && { top_p: r.top_p }),
    ...(stop && stop.length > 0 && { stop }),
    ...(given(r.seed) && { seed: r.seed }),
    ...(r.tools && r.tools.length > 0 && { tools: r.tools }),
    ...(given(r.tool_choice) && { tool_choice: r.tool_choice }),
    ...(given(r.user) && { user: r.user }),
    ...(r.stream && r.stream_options?.include_usage && { include_usage: true }),
  };
}
