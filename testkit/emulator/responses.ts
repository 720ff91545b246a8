import type http from 'node:http';
import { z } from 'zod';
import { checkModel, hexId, profileOf, randomId, sendError, sendInvalid, type EmulatorContext } from './context.js';
import type { GenerationRecord } from './history.js';
import { clientGone, cutConnection, sendJson, startSse, writeSse } from './http.js';
import { Pacer, sleep } from './pacing.js';
import { emit, finished, follow, settle, type ResponseEntry, type ResponseStore } from './responses-store.js';
import { estimateTokens, freshRng, sampleTokens } from './sampler.js';

const contentPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const inputItem = z.looseObject({
  type: z.string().optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']).optional(),
  content: z.union([z.string(), z.array(contentPart)]).optional(),
});

// The create-response parameters the emulator acts on (https://platform.openai.com/docs/api-reference/responses/create).
export const responseRequest = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(inputItem)]).optional(),
  instructions: z.string().nullish(),
  max_output_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stream: z.boolean().nullish(),
  background: z.boolean().nullish(),
  store: z.boolean().nullish(),
  previous_response_id: z.string().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  stream_options: z.looseObject({ include_obfuscation: z.boolean().optional() }).nullish(),
});
type ResponseRequest = z.infer<typeof responseRequest>;

const itemText = (content: z.infer<typeof inputItem>['content']) =>
  typeof content === 'string' ? content : (content ?? []).map((p) => p.text ?? '').join('');
const inputText = (r: ResponseRequest) =>
  typeof r.input === 'string' ? r.input : (r.input ?? []).map((i) => itemText(i.content)).join('\n');

const lastUserText = (r: ResponseRequest) =>
  typeof r.input === 'string' ? r.input : itemText((r.input ?? []).findLast((i) => (i.role ?? 'user') === 'user')?.content);

const notFound = (ctx: EmulatorContext, res: http.ServerResponse, id: string) =>
  // OpenAI's answer for an id it does not hold, as quoted in
  // https://community.openai.com/t/responses-api-reconnect-to-a-streaming-response/1362217.
  sendError(ctx, res, 404, `Response with id '${id}' not found.`, { param: null });

export class ResponsesApi {
  constructor(
    private readonly ctx: EmulatorContext,
    private readonly store: ResponseStore,
  ) {}

  async create(res: http.ServerResponse, body: unknown) {
    const { ctx } = this;
    const parsed = responseRequest.safeParse(body);
    if (!parsed.success) return sendInvalid(ctx, res, parsed.error);
    const r = parsed.data;
    if (!checkModel(ctx, res, r.model)) return;
    const stateful = profileOf(ctx).responses === 'stateful';
    const store = stateful && r.store !== false;
    if (r.background && !stateful) {
      // Ollama's Responses API is stateless, so it has no background mode (https://docs.ollama.com/api/openai-compatibility).
      return sendError(ctx, res, 400, 'Background responses are not supported.', { param: 'background' });
    }
    if (r.background && !store) {
      // OpenAI: "Background sampling requires store=true; stateless requests are rejected"
      // (https://platform.openai.com/docs/guides/background, Limits).
      return sendError(ctx, res, 400, 'Background mode requires store=true.', { param: 'store' });
    }
    if (r.previous_response_id && !this.store.get(r.previous_response_id)) {
      const message = `Previous response with id '${r.previous_response_id}' not found.`;
      return sendError(ctx, res, 400, message, { param: 'previous_response_id' });
    }
    const entry = this.newEntry(r, store);
    const record = ctx.history.add({
      endpoint: 'responses',
      upstreamId: entry.id,
      path: '/v1/responses',
      profile: ctx.config.profile,
      model: r.model,
      // The Responses API documents no prefill: its answer is always a new output message.
      mode: 'new',
      lastUserMessage: lastUserText(r),
      prefix: null,
      choices: [{ index: 0, text: '', continuation: '', finishReason: null, toolCalls: [] }],
      params: {
        stream: r.stream === true,
        temperature: r.temperature ?? null,
        seed: null,
        maxTokens: r.max_output_tokens ?? null,
        n: 1,
        stop: [],
        extra: { background: r.background ?? false, store, previous_response_id: r.previous_response_id ?? null },
      },
    });
    // Background responses run on the provider whether or not anyone is connected
    // (https://platform.openai.com/docs/guides/background).
    if (entry.background) this.store.put(entry);
    this.generate(entry, r, record).catch((err: unknown) => this.fail(entry, record, err));

    const obfuscate = r.stream_options?.include_obfuscation !== false;
    if (entry.background) {
      if (r.stream) return this.deliver(res, entry, -1, obfuscate);
      return sendJson(res, 200, structuredClone(entry.object));
    }
    // Closing the connection of a normal (not background) request ends its generation
    // (https://community.openai.com/t/responses-api-reconnect-to-a-streaming-response/1362217).
    const gone = clientGone(res);
    if (gone.aborted) entry.abort.abort();
    else gone.addEventListener('abort', () => entry.abort.abort(), { once: true });
    if (r.stream) return this.deliver(res, entry, -1, obfuscate);
    await finished(entry, gone);
    if (!gone.aborted) sendJson(res, 200, structuredClone(entry.object));
  }

  /** GET /v1/responses/{id}, optionally `?stream=true&starting_after=N` to resume the event stream. */
  async retrieve(res: http.ServerResponse, id: string, query: URLSearchParams) {
    const entry = this.store.get(id);
    if (!entry) return notFound(this.ctx, res, id);
    if (query.get('stream') !== 'true') return sendJson(res, 200, structuredClone(entry.object));
    if (!entry.resumable) {
      // OpenAI: "You can only start a new stream from a background response if you created it with stream=true"
      // (https://platform.openai.com/docs/guides/background, Limits).
      const message = 'Only background responses created with stream=true can be streamed.';
      return sendError(this.ctx, res, 400, message, { param: 'stream' });
    }
    const raw = query.get('starting_after');
    const after = raw === null ? -1 : Number(raw);
    if (!Number.isInteger(after) || after < -1) {
      const message = `Invalid value for 'starting_after': expected an integer.`;
      return sendError(this.ctx, res, 400, message, { param: 'starting_after' });
    }
    return this.deliver(res, entry, after, query.get('include_obfuscation') !== 'false');
  }

  /** POST /v1/responses/{id}/cancel: only background responses can be cancelled; again is a no-op. */
  cancel(res: http.ServerResponse, id: string) {
    const entry = this.store.get(id);
    if (!entry) return notFound(this.ctx, res, id);
    if (!entry.background) {
      return sendError(this.ctx, res, 400, 'Only responses created with background=true can be cancelled.', { param: null });
    }
    // OpenAI: "Cancelling twice is idempotent - subsequent calls simply return the final Response object"
    // (https://platform.openai.com/docs/guides/background).
    if (!entry.done) {
      entry.object.status = 'cancelled';
      settle(entry, this.ctx.config.responseTtlSeconds);
      entry.abort.abort();
    }
    sendJson(res, 200, structuredClone(entry.object));
  }

  delete(res: http.ServerResponse, id: string) {
    if (!this.store.remove(id)) return notFound(this.ctx, res, id);
    sendJson(res, 200, { id, object: 'response', deleted: true });
  }

  private newEntry(r: ResponseRequest, store: boolean): ResponseEntry {
    const background = r.background === true;
    const id = hexId('resp_', 24);
    return {
      id,
      object: {
        id,
        object: 'response',
        created_at: Math.floor(Date.now() / 1000),
        // OpenAI: a background response starts queued, then moves to in_progress
        // (https://platform.openai.com/docs/guides/background).
        status: background ? 'queued' : 'in_progress',
        background,
        completed_at: null,
        error: null,
        incomplete_details: null,
        instructions: r.instructions ?? null,
        max_output_tokens: r.max_output_tokens ?? null,
        metadata: r.metadata ?? {},
        model: r.model,
        output: [],
        parallel_tool_calls: true,
        previous_response_id: r.previous_response_id ?? null,
        reasoning: { effort: null, summary: null },
        store,
        temperature: r.temperature ?? 1,
        text: { format: { type: 'text' } },
        tool_choice: 'auto',
        tools: [],
        top_p: r.top_p ?? 1,
        truncation: 'disabled',
        usage: null,
        user: null,
      },
      events: [],
      done: false,
      background,
      resumable: background && r.stream === true,
      abort: new AbortController(),
      expiresAt: null,
      listeners: new Set(),
    };
  }

  /** Runs the generation, writing every event to the response's log. */
  private async generate(entry: ResponseEntry, r: ResponseRequest, record: GenerationRecord) {
    const { ctx } = this;
    const signal = AbortSignal.any([entry.abort.signal, ctx.closing]);
    const snapshot = () => structuredClone(entry.object);
    const pacer = new Pacer(ctx.config.tokensPerSecond);
    const tokens = sampleTokens(freshRng(), ctx.config);
    const cap = r.max_output_tokens ?? Infinity;
    const planned = tokens.slice(0, cap);
    const itemId = hexId('msg_', 24);
    const part = { type: 'output_text', text: '', annotations: [] as unknown[], logprobs: [] as unknown[] };
    const item = { id: itemId, type: 'message', status: 'in_progress', role: 'assistant', content: [] as unknown[] };
    const at = { item_id: itemId, output_index: 0, content_index: 0 };

    // OpenAI's event order for a text answer (https://platform.openai.com/docs/api-reference/responses-streaming).
    emit(entry, { type: 'response.created', response: snapshot() });
    if (entry.background) await pacer.due(1, signal);
    if (signal.aborted) return this.stopped(entry, record);
    entry.object.status = 'in_progress';
    emit(entry, { type: 'response.in_progress', response: snapshot() });
    (entry.object.output as unknown[]).push(item);
    emit(entry, { type: 'response.output_item.added', output_index: 0, item: structuredClone(item) });
    item.content.push(part);
    emit(entry, { type: 'response.content_part.added', ...at, part: structuredClone(part) });

    for (let i = 0; i < planned.length; i++) {
      await pacer.due(i + 1, signal);
      if (signal.aborted) return this.stopped(entry, record);
      const delta = planned[i]!;
      part.text += delta;
      record.choices[0]!.text = record.choices[0]!.continuation = part.text;
      emit(entry, { type: 'response.output_text.delta', ...at, delta, logprobs: [], obfuscation: randomId('', 1 + (i % 12)) });
    }

    const incomplete = tokens.length > cap;
    item.status = incomplete ? 'incomplete' : 'completed';
    emit(entry, { type: 'response.output_text.done', ...at, text: part.text, logprobs: [] });
    emit(entry, { type: 'response.content_part.done', ...at, part: structuredClone(part) });
    emit(entry, { type: 'response.output_item.done', output_index: 0, item: structuredClone(item) });
    const inputTokens = estimateTokens(`${r.instructions ?? ''}${inputText(r)}`);
    Object.assign(entry.object, {
      status: incomplete ? 'incomplete' : 'completed',
      // OpenAI: a response cut by max_output_tokens is incomplete with reason max_output_tokens.
      incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
      completed_at: incomplete ? null : Math.floor(Date.now() / 1000),
      usage: {
        input_tokens: inputTokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: planned.length,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: inputTokens + planned.length,
      },
    });
    emit(entry, { type: incomplete ? 'response.incomplete' : 'response.completed', response: snapshot() });
    record.choices[0]!.finishReason = incomplete ? 'length' : 'stop';
    ctx.history.finish(record, 'finished');
    // A normal request with store=true becomes retrievable once it has finished.
    if (!entry.background && entry.object.store === true) this.store.put(entry);
    settle(entry, ctx.config.responseTtlSeconds);
  }

  /** An emulator bug surfaces the way a provider failure does: a failed response, not a crashed process. */
  private fail(entry: ResponseEntry, record: GenerationRecord, err: unknown) {
    if (entry.done) return;
    Object.assign(entry.object, { status: 'failed', error: { code: 'server_error', message: String(err) } });
    emit(entry, { type: 'response.failed', response: structuredClone(entry.object) });
    this.ctx.history.finish(record, 'aborted');
    settle(entry, this.ctx.config.responseTtlSeconds);
  }

  private stopped(entry: ResponseEntry, record: GenerationRecord) {
    this.ctx.history.finish(record, entry.object.status === 'cancelled' ? 'cancelled' : 'aborted');
    if (!entry.done) settle(entry, this.ctx.config.responseTtlSeconds);
  }

  /**
   * Streams the events after `after` over SSE, then live ones. A background response keeps generating
   * when this connection drops; injected faults act on this connection only.
   */
  private async deliver(res: http.ServerResponse, entry: ResponseEntry, after: number, obfuscate: boolean) {
    const gone = clientGone(res);
    const stop = AbortSignal.any([gone, this.ctx.closing]);
    const faults = this.ctx.faults.nextStream();
    let tokens = 0;
    startSse(res);
    for await (const event of follow(entry, after, stop)) {
      if (event.type === 'response.output_text.delta') {
        if (tokens === faults.breakAt) return cutConnection(res);
        if (tokens === faults.stallAt) await sleep(faults.stallMs, stop);
        tokens++;
      }
      const { obfuscation, ...rest } = event;
      writeSse(res, obfuscate && obfuscation !== undefined ? event : rest, event.type);
    }
    res.end();
  }
}
