import type http from 'node:http';
import { z } from 'zod';
import { checkModel, profileOf, randomId, sendError, sendInvalid, type EmulatorContext } from './context.js';
import type { GenerationRecord } from './history.js';
import { clientGone, cutConnection, sendJson, startSse, writeSse } from './http.js';
import { Pacer, sleep } from './pacing.js';
import type { ChatMessageView } from './profiles.js';
import {
  cutAtStop,
  estimateTokens,
  freshRng,
  sampleArguments,
  sampleTokens,
  seededRng,
  splitPieces,
  type Rng,
} from './sampler.js';

const part = z.looseObject({ type: z.string(), text: z.string().optional() });
const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(part)]).nullish(),
  prefix: z.boolean().optional(),
});
const tool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({ name: z.string().min(1), description: z.string().optional(), parameters: z.unknown().optional() }),
});
const namedTool = z.looseObject({ type: z.literal('function'), function: z.object({ name: z.string() }) });

// The OpenAI create-chat-completion parameters the emulator acts on
// (https://platform.openai.com/docs/api-reference/chat/create); other fields pass through and are recorded.
export const chatRequest = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  tools: z.array(tool).nullish(),
  tool_choice: z.union([z.enum(['none', 'auto', 'required']), namedTool]).nullish(),
});
type ChatRequest = z.infer<typeof chatRequest>;

const STANDARD = new Set(Object.keys(chatRequest.shape));
const FINGERPRINT = 'fp_emulator';

export const flatten = (content: string | { text?: string | undefined }[] | null | undefined) =>
  typeof content === 'string' ? content : (content ?? []).map((p) => p.text ?? '').join('');

interface ChoicePlan {
  index: number;
  /** Text tokens, or the pieces a tool call's arguments arrive in. */
  pieces: string[];
  /** Sent before the pieces: the prefix, for a provider that echoes it. */
  echo: string;
  tool: { id: string; name: string } | null;
  finishReason: 'stop' | 'length' | 'tool_calls';
}

export async function handleChat(ctx: EmulatorContext, res: http.ServerResponse, path: string, body: unknown) {
  const parsed = chatRequest.safeParse(body);
  if (!parsed.success) return sendInvalid(ctx, res, parsed.error);
  const r = parsed.data;
  if (!checkModel(ctx, res, r.model)) return;
  const named = typeof r.tool_choice === 'object' && r.tool_choice ? r.tool_choice.function.name : null;
  if (named && !r.tools?.some((t) => t.function.name === named)) {
    const message = `Invalid value for 'tool_choice': no function named '${named}' in 'tools'.`;
    return sendError(ctx, res, 400, message, { param: 'tool_choice' });
  }
  const profile = profileOf(ctx);
  const messages: ChatMessageView[] = r.messages.map((m) => ({ role: m.role, content: flatten(m.content), prefix: m.prefix }));
  const decision = profile.prefill({ messages, body: r, path }, { thinking: ctx.config.thinking });
  if (decision.mode === 'refused') return sendJson(res, decision.status, decision.body);
  const prefix = decision.mode === 'continued' ? decision.prefix : null;
  const echo = decision.mode === 'continued' && decision.echo ? decision.prefix : '';

  const plans = planChoices(ctx, r, prefix, echo);
  const record = ctx.history.add({
    endpoint: 'chat',
    upstreamId: randomId('chatcmpl-', 29),
    path,
    profile: profile.name,
    model: r.model,
    mode: decision.mode,
    lastUserMessage: messages.findLast((m) => m.role === 'user')?.content ?? null,
    prefix,
    choices: plans.map((p) => ({ index: p.index, text: echo, continuation: '', finishReason: null, toolCalls: [] })),
    params: {
      stream: r.stream === true,
      temperature: r.temperature ?? null,
      seed: r.seed ?? null,
      maxTokens: r.max_completion_tokens ?? r.max_tokens ?? null,
      n: r.n ?? 1,
      stop: stops(r),
      extra: extraParams(r),
    },
  });
  const promptTokens = r.messages.reduce((sum, m) => sum + 3 + estimateTokens(flatten(m.content)), 3);
  const completionTokens = plans.reduce((sum, p) => sum + p.pieces.length, 0);
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
  const gone = clientGone(res);
  const answer: Answer = { ctx, res, r, plans, record, usage, gone };
  if (r.stream) await stream(answer);
  else await complete(answer);
}

function stops(r: ChatRequest): string[] {
  return r.stop === undefined || r.stop === null ? [] : typeof r.stop === 'string' ? [r.stop] : r.stop;
}

function extraParams(r: ChatRequest): Record<string, unknown> {
  const extra = Object.fromEntries(Object.entries(r).filter(([k]) => !STANDARD.has(k)));
  const lastMessage = r.messages[r.messages.length - 1];
  if (lastMessage?.prefix !== undefined) extra.prefix = lastMessage.prefix;
  return extra;
}

function planChoices(ctx: EmulatorContext, r: ChatRequest, prefix: string | null, echo: string): ChoicePlan[] {
  // Real providers only approximate determinism, and only for temperature 0 with a seed; here that case is exact.
  const deterministic = r.temperature === 0 && r.seed !== undefined && r.seed !== null;
  const key = JSON.stringify({ messages: r.messages, seed: r.seed, tools: r.tools?.map((t) => t.function.name) });
  const cap = r.max_completion_tokens ?? r.max_tokens ?? Infinity;
  return Array.from({ length: r.n ?? 1 }, (_, index) => {
    const rng = deterministic ? seededRng(key) : freshRng();
    const chosen = prefix === null ? chooseTool(ctx, r, rng) : null;
    if (chosen) {
      const args = JSON.stringify(sampleArguments(rng, chosen.function.parameters));
      const pieces = splitPieces(rng, args);
      return {
        index,
        pieces: pieces.slice(0, cap),
        echo: '',
        tool: { id: randomId('call_', 24), name: chosen.function.name },
        finishReason: pieces.length > cap ? 'length' : 'tool_calls',
      };
    }
    const cut = cutAtStop(sampleTokens(rng, ctx.config, prefix ?? ''), stops(r));
    const capped = cut.tokens.length > cap;
    return { index, pieces: cut.tokens.slice(0, cap), echo, tool: null, finishReason: capped ? 'length' : 'stop' };
  });
}

type Tool = NonNullable<ChatRequest['tools']>[number];

function chooseTool(ctx: EmulatorContext, r: ChatRequest, rng: Rng): Tool | null {
  const tools = r.tools ?? [];
  const choice = r.tool_choice ?? 'auto';
  if (tools.length === 0 || choice === 'none') return null;
  if (typeof choice === 'object') return tools.find((t) => t.function.name === choice.function.name) ?? null;
  const pickOne = () => tools[Math.floor(rng() * tools.length)]!;
  if (choice === 'required') return pickOne();
  // After a tool result, a model with "auto" mostly answers in text; elsewhere it calls a tool now and then.
  if (r.messages[r.messages.length - 1]?.role === 'tool') return null;
  return rng() < ctx.config.toolCallProbability ? pickOne() : null;
}

function recordPiece(record: GenerationRecord, plan: ChoicePlan, piece: string) {
  const choice = record.choices[plan.index]!;
  if (plan.tool) {
    const call = choice.toolCalls[0] ?? { id: plan.tool.id, name: plan.tool.name, arguments: '' };
    call.arguments += piece;
    choice.toolCalls[0] = call;
  } else {
    choice.text += piece;
    choice.continuation += piece;
  }
}

function finishRecord(ctx: EmulatorContext, record: GenerationRecord, plans: ChoicePlan[]) {
  for (const p of plans) record.choices[p.index]!.finishReason = p.finishReason;
  ctx.history.finish(record, 'finished');
}

/** Everything one answer is written from, whether streamed or not. */
interface Answer {
  readonly ctx: EmulatorContext;
  readonly res: http.ServerResponse;
  readonly r: ChatRequest;
  readonly plans: ChoicePlan[];
  readonly record: GenerationRecord;
  readonly usage: object;
  /** Aborts when the client goes away. */
  readonly gone: AbortSignal;
}

async function complete({ ctx, res, r, plans, record, usage, gone }: Answer) {
  // Take as long as streaming the same tokens would.
  const steps = Math.max(...plans.map((p) => p.pieces.length));
  await sleep(new Pacer(ctx.config.tokensPerSecond).durationOf(steps), AbortSignal.any([gone, ctx.closing]));
  if (gone.aborted || ctx.closing.aborted) return ctx.history.finish(record, 'aborted');
  for (const p of plans) for (const piece of p.pieces) recordPiece(record, p, piece);
  finishRecord(ctx, record, plans);
  sendJson(res, 200, {
    id: record.upstreamId,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: r.model,
    system_fingerprint: FINGERPRINT,
    choices: plans.map((p) => ({
      index: p.index,
      message: {
        role: 'assistant',
        content: p.tool ? null : p.echo + p.pieces.join(''),
        refusal: null,
        annotations: [],
        ...(p.tool && {
          tool_calls: [{ id: p.tool.id, type: 'function', function: { name: p.tool.name, arguments: p.pieces.join('') } }],
        }),
      },
      logprobs: null,
      finish_reason: p.finishReason,
    })),
    usage,
  });
}

async function stream({ ctx, res, r, plans, record, usage, gone }: Answer) {
  const base = {
    id: record.upstreamId,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model: r.model,
    system_fingerprint: FINGERPRINT,
  };
  // OpenAI: with stream_options.include_usage every chunk carries "usage": null and one last chunk before [DONE]
  // carries the usage with "choices": [] (https://platform.openai.com/docs/api-reference/chat/create).
  const includeUsage = r.stream_options?.include_usage === true;
  const send = (choices: object[], u: object | null = null) =>
    writeSse(res, { ...base, choices, ...(includeUsage ? { usage: u } : {}) });
  const choice = (index: number, delta: object, finish: string | null = null) => ({
    index,
    delta,
    logprobs: null,
    finish_reason: finish,
  });
  const stop = AbortSignal.any([gone, ctx.closing]);

  startSse(res);
  for (const p of plans) {
    // A streamed tool call opens with its id, type and name, then its arguments arrive in pieces
    // (https://platform.openai.com/docs/guides/function-calling#streaming).
    const toolCall = p.tool && { index: 0, id: p.tool.id, type: 'function', function: { name: p.tool.name, arguments: '' } };
    const opening = toolCall ? { content: null, tool_calls: [toolCall] } : { content: p.echo };
    send([choice(p.index, { role: 'assistant', ...opening, refusal: null })]);
  }
  const steps = Math.max(...plans.map((p) => p.pieces.length));
  const faults = ctx.faults.nextStream();
  const pacer = new Pacer(ctx.config.tokensPerSecond);
  for (let s = 0; s <= steps; s++) {
    if (s === faults.breakAt) {
      ctx.history.finish(record, 'broken');
      return cutConnection(res);
    }
    if (s === faults.stallAt) {
      await sleep(faults.stallMs, stop);
      pacer.shift(faults.stallMs);
    }
    if (s === steps) break;
    await pacer.due(s + 1, stop);
    if (stop.aborted) return ctx.history.finish(record, 'aborted');
    const deltas = plans
      .filter((p) => s < p.pieces.length)
      .map((p) => {
        const piece = p.pieces[s]!;
        recordPiece(record, p, piece);
        return choice(p.index, p.tool ? { tool_calls: [{ index: 0, function: { arguments: piece } }] } : { content: piece });
      });
    send(deltas);
  }
  for (const p of plans) send([choice(p.index, {}, p.finishReason)]);
  if (includeUsage) send([], usage);
  writeSse(res, '[DONE]');
  res.end();
  finishRecord(ctx, record, plans);
}
