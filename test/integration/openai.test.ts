import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { streamText } from 'ai';
import OpenAI, { BadRequestError, ConflictError, NotFoundError } from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plan } from '../../src/upstream/text.js';
import { startEmulatorProcess, type EmulatorProcess } from '../../testkit/emulator/process.js';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

/**
 * The OpenAI-compatible front door driven by the official `openai` package exactly as its docs
 * use it (`new OpenAI({ baseURL, apiKey })`), and by the AI SDK's OpenAI-compatible provider:
 * one replica on a real PostgreSQL, the built-in dev upstream (deterministic: every answer is
 * checked against `plan()`), and the provider emulator as the upstream for tool calls.
 */
const KEY = 'openai-front-door-key-0123456789';
const OTHER = 'openai-other-key-0123456789abcdef';
const ALIAS = 'text-embedding-3-small';

const reference = (content: string, maxTokens: number) => plan([{ role: 'user', content }], maxTokens).tokens.join('');
const user = (content: string) => [{ role: 'user' as const, content }];

/** Reads a raw SSE body into frames (id, event, data). */
async function frames(res: Response): Promise<{ id?: string; event?: string; data: string }[]> {
  const out: { id?: string; event?: string; data: string }[] = [];
  for (const block of (await res.text()).split('\n\n')) {
    if (!block.trim()) continue;
    const f: { id?: string; event?: string; data: string } = { data: '' };
    for (const line of block.split('\n')) {
      const [k, ...rest] = line.split(': ');
      const v = rest.join(': ');
      if (k === 'id') f.id = v;
      else if (k === 'event') f.event = v;
      else if (k === 'data') f.data = v;
    }
    out.push(f);
  }
  return out;
}

describe('the OpenAI-compatible front door, through the official openai client (one replica, real PostgreSQL)', () => {
  let pg: PostgresInstance;
  let svc: ServiceProcess;
  let client: OpenAI;

  beforeAll(async () => {
    pg = await startPostgres();
    svc = await startService({
      DATABASE_URL: pg.url,
      API_KEYS: `alice:${KEY},bob:${OTHER}`,
      EMBEDDING_MODEL_ALIASES: ALIAS,
      DEV_UPSTREAM_TOKENS_PER_SECOND: '400',
      KEY_RATE_PER_SECOND: '1000',
      KEY_RATE_BURST: '1000',
    });
    client = new OpenAI({ baseURL: `${svc.url}/v1`, apiKey: KEY });
  });
  afterAll(async () => {
    svc?.kill('SIGKILL');
    await svc?.exited;
    await pg?.stop();
  });

  it('models.list and models.retrieve: the chat model, the embedding model and its aliases', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(['lastcall-dev', 'lastcall-mini-embed', ALIAS]);
    expect(await client.models.retrieve('lastcall-dev')).toMatchObject({
      id: 'lastcall-dev',
      object: 'model',
      owned_by: 'lastcall',
    });
    const missing = await client.models.retrieve('gpt-4o').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ code: 'model_not_found', param: 'model', type: 'invalid_request_error' });
  });

  it('chat.completions.create without stream: one chat.completion with the whole answer and its usage', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'lastcall-dev', messages: user('a whole answer please'), max_tokens: 30 })
      .withResponse();
    const id = response.headers.get('lastcall-stream-id');
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(data).toMatchObject({
      id: `chatcmpl-${id}`,
      object: 'chat.completion',
      model: 'lastcall-dev',
      choices: [
        { index: 0, finish_reason: 'length', message: { role: 'assistant', content: reference('a whole answer please', 30) } },
      ],
      usage: { completion_tokens: 30 },
    });
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + 30);
  });

  it('chat.completions.create with stream and include_usage: chunks with SSE ids, a usage chunk, [DONE]; resumable in the same chunks', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({
        model: 'lastcall-dev',
        messages: user('stream it to me'),
        max_tokens: 25,
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    const id = response.headers.get('lastcall-stream-id')!;
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.every((c) => c.id === `chatcmpl-${id}` && c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(reference('stream it to me', 25));
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 25 } });

    // Every chunk has an SSE id (the role chunk 0, entry n as n, the closing ones 26); resumed
    // with Last-Event-ID on GET /v1/streams/:id it continues in the same chunk format.
    const replay = await frames(
      await fetch(`${svc.url}/v1/streams/${id}`, { headers: { Authorization: `Bearer ${KEY}`, 'Last-Event-ID': '20' } }),
    );
    expect(replay.map((f) => f.id)).toEqual(['21', '22', '23', '24', '25', '26', '26', undefined]);
    expect(replay.at(-1)!.data).toBe('[DONE]');
    const tail = replay.slice(0, 5).map((f) => (JSON.parse(f.data) as ChatCompletionChunk).choices[0]!.delta.content);
    expect(tail.join('')).toBe(plan(user('stream it to me'), 25).tokens.slice(20).join(''));
  });

  it('embeddings.create answers to an alias (EMBEDDING_MODEL_ALIASES); another OpenAI name is NotFoundError', async () => {
    const res = await client.embeddings.create({ model: ALIAS, input: ['a pod drains', 'a node restarts'] });
    expect(res.data).toHaveLength(2);
    expect(res.data[0]!.embedding).toHaveLength(128);
    const missing = await client.embeddings.create({ model: 'text-embedding-ada-002', input: 'x' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ code: 'model_not_found', param: 'model' });
  });

  it('responses.create streamed: OpenAI events with gap-free sequence numbers; retrieve gives output_text; starting_after replays', async () => {
    const stream = await client.responses.create({
      model: 'lastcall-dev',
      input: 'respond in events',
      max_output_tokens: 20,
      stream: true,
    });
    const events: ResponseStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.slice(0, 4).map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    expect(events.slice(-4).map((e) => e.type)).toEqual([
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.incomplete',
    ]);
    const deltas = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : []));
    expect(deltas.join('')).toBe(reference('respond in events', 20));
    const id = events[0]!.type === 'response.created' ? events[0].response.id : '';
    const retrieved = await client.responses.retrieve(id);
    expect(retrieved).toMatchObject({ id, status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect(retrieved.output_text).toBe(deltas.join(''));

    const resumed: ResponseStreamEvent[] = [];
    for await (const e of await client.responses.retrieve(id, { stream: true, starting_after: 10 })) resumed.push(e);
    expect(resumed.map((e) => e.sequence_number)).toEqual(events.slice(11).map((e) => e.sequence_number));
    expect(resumed).toEqual(events.slice(11));
    // lastcall's own GET /v1/streams/:id resumes it in the same events, the sequence number as Last-Event-ID.
    const streamId = id.slice('resp_'.length);
    const viaStreams = await frames(
      await fetch(`${svc.url}/v1/streams/${streamId}`, { headers: { Authorization: `Bearer ${KEY}`, 'Last-Event-ID': '10' } }),
    );
    expect(viaStreams.map((f) => JSON.parse(f.data) as ResponseStreamEvent)).toEqual(events.slice(11));
    expect(viaStreams.map((f) => f.event)).toEqual(events.slice(11).map((e) => e.type));
    // From its last closing event: nothing more, and no error.
    const last = events.length - 1;
    const none: ResponseStreamEvent[] = [];
    for await (const e of await client.responses.retrieve(id, { stream: true, starting_after: last })) none.push(e);
    expect(none).toEqual([]);
  });

  it('responses.create waited for, with instructions and messages as input; background answers at once and completes', async () => {
    const waited = await client.responses.create({
      model: 'lastcall-dev',
      instructions: 'be brief',
      input: [{ role: 'user', content: 'hello there' }],
      max_output_tokens: 12,
    });
    const expected = plan(
      [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello there' },
      ],
      12,
    ).tokens.join('');
    expect(waited).toMatchObject({ object: 'response', status: 'incomplete', instructions: 'be brief', background: false });
    expect(waited.output_text).toBe(expected);

    const bg = await client.responses.create({
      model: 'lastcall-dev',
      input: 'in the background',
      background: true,
      max_output_tokens: 40,
    });
    expect(['queued', 'in_progress']).toContain(bg.status);
    expect(bg.background).toBe(true);
    let done = bg;
    for (let i = 0; i < 100 && (done.status === 'queued' || done.status === 'in_progress'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      done = await client.responses.retrieve(bg.id);
    }
    expect(done.status).toBe('incomplete');
    expect(done.output_text).toBe(reference('in the background', 40));
  });

  it('responses.cancel stops a background response (twice is the same answer; finished is ConflictError); delete removes it', async () => {
    const bg = await client.responses.create({
      model: 'lastcall-dev',
      input: 'cancel me',
      background: true,
      max_output_tokens: 4000,
    });
    await new Promise((r) => setTimeout(r, 200));
    const cancelled = await client.responses.cancel(bg.id);
    expect(cancelled.status).toBe('cancelled');
    // The SDK fills output_text on create and retrieve only.
    const partial = cancelled.output.flatMap((o) =>
      o.type === 'message' ? o.content.flatMap((c) => (c.type === 'output_text' ? [c.text] : [])) : [],
    );
    expect(partial.join('').length).toBeGreaterThan(0);
    expect(reference('cancel me', 4000).startsWith(partial.join(''))).toBe(true);
    expect((await client.responses.retrieve(bg.id)).output_text).toBe(partial.join(''));
    expect((await client.responses.cancel(bg.id)).status).toBe('cancelled');

    const finished = await client.responses.create({
      model: 'lastcall-dev',
      input: 'finish me',
      background: true,
      max_output_tokens: 2,
    });
    for (let i = 0; i < 100 && (await client.responses.retrieve(finished.id)).status !== 'incomplete'; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const late = await client.responses.cancel(finished.id).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(ConflictError);

    await client.responses.delete(finished.id);
    expect(await client.responses.retrieve(finished.id).catch((e: unknown) => e)).toBeInstanceOf(NotFoundError);
  });

  it('bad input answers with the SDK typed errors and OpenAI error objects', async () => {
    const fail = (p: Promise<unknown>) =>
      p.then(
        () => expect.fail('accepted'),
        (e: unknown) => e,
      );
    const cases: [() => Promise<unknown>, unknown, Record<string, unknown>][] = [
      [
        () => client.chat.completions.create({ model: 'gpt-4o', messages: user('x') }),
        NotFoundError,
        { code: 'model_not_found', param: 'model' },
      ],
      [() => client.responses.create({ model: 'gpt-4o', input: 'x' }), NotFoundError, { code: 'model_not_found' }],
      [
        () => client.chat.completions.create({ model: 'lastcall-dev', messages: user('x'), n: 2 }),
        BadRequestError,
        { param: 'n' },
      ],
      [() => client.chat.completions.create({ model: 'lastcall-dev', messages: [] }), BadRequestError, { param: 'messages' }],
      [
        () => client.chat.completions.create({ model: 'lastcall-dev', messages: user('x'.repeat(32_001)) }),
        BadRequestError,
        { param: 'messages[0].content' },
      ],
      [
        () => client.chat.completions.create({ model: 'lastcall-dev', messages: user('x'), max_tokens: 1_000_000 }),
        BadRequestError,
        { param: 'max_tokens' },
      ],
      [
        () => client.responses.create({ model: 'lastcall-dev', input: 'x', background: true, store: false }),
        BadRequestError,
        { param: 'store' },
      ],
      [() => client.responses.retrieve('resp_nosuchresponse'), NotFoundError, {}],
      [() => client.responses.retrieve('resp_AAAAAAAAAAAAAAAAAAAAAA'), NotFoundError, {}],
      [() => client.responses.cancel('resp_AAAAAAAAAAAAAAAAAAAAAA'), NotFoundError, {}],
    ];
    for (const [request, type, fields] of cases) {
      const err = await fail(request());
      expect(err).toBeInstanceOf(type);
      expect(err).toMatchObject({ type: 'invalid_request_error', ...fields });
    }

    // starting_after: negative, not an integer, beyond the last event of a finished response.
    const done = await client.responses.create({ model: 'lastcall-dev', input: 'three events', max_output_tokens: 3 });
    const last = 3 + 3 + 4; // opening 0–3, deltas 4–6, closing 7–10
    for (const bad of [-1, 1.5, last + 1]) {
      const err = await fail(client.responses.retrieve(done.id, { stream: true, starting_after: bad }));
      expect(err, String(bad)).toBeInstanceOf(BadRequestError);
      expect(err).toMatchObject({ param: 'starting_after' });
    }
    // Another key's response is a 404, as if it did not exist.
    const bob = new OpenAI({ baseURL: `${svc.url}/v1`, apiKey: OTHER });
    expect(await fail(bob.responses.retrieve(done.id))).toBeInstanceOf(NotFoundError);

    // Over MAX_BODY_BYTES: 413 in OpenAI's shape.
    const huge = await fail(
      client.chat.completions.create({
        model: 'lastcall-dev',
        messages: Array.from({ length: 40 }, () => user('y'.repeat(30_000))[0]!),
      }),
    );
    expect(huge).toMatchObject({ status: 413, type: 'invalid_request_error', code: 'payload_too_large' });
    // Auth is as everywhere: the OpenAI routes answer in OpenAI's shape, lastcall's own in its own.
    const unauthorized = await fetch(`${svc.url}/v1/chat/completions`, { method: 'POST' });
    expect(unauthorized.status).toBe(401);
    expect(await unauthorized.json()).toEqual({
      error: { message: 'missing or unknown bearer key', type: 'invalid_request_error', param: null, code: 'unauthorized' },
    });
    expect(await (await fetch(`${svc.url}/v1/tasks`, { method: 'POST' })).json()).toEqual({
      error: { code: 'unauthorized', message: 'missing or unknown bearer key' },
    });
  });

  it('Idempotency-Key: the same key joins what the first request started; a different body under it is ConflictError', async () => {
    const key = (k: string) => ({ headers: { 'Idempotency-Key': k } });
    const body = { model: 'lastcall-dev', messages: user('exactly once'), max_tokens: 20 };
    const first = await client.chat.completions.create(body, key('chat-1')).withResponse();
    const again = await client.chat.completions.create(body, key('chat-1')).withResponse();
    expect(again.response.headers.get('lastcall-stream-id')).toBe(first.response.headers.get('lastcall-stream-id'));
    expect(again.data).toEqual(first.data);
    expect(
      await client.chat.completions.create({ ...body, max_tokens: 21 }, key('chat-1')).catch((e: unknown) => e),
    ).toBeInstanceOf(ConflictError);
    // A streamed retry joins too, from the start.
    const streamed = await client.chat.completions.create({ ...body, stream: true }, key('chat-2')).withResponse();
    let text = '';
    for await (const c of streamed.data) text += c.choices[0]?.delta.content ?? '';
    const rejoined = await client.chat.completions.create({ ...body, stream: true }, key('chat-2')).withResponse();
    let again2 = '';
    for await (const c of rejoined.data) again2 += c.choices[0]?.delta.content ?? '';
    expect(rejoined.response.headers.get('lastcall-stream-id')).toBe(streamed.response.headers.get('lastcall-stream-id'));
    expect(again2).toBe(text);

    const r1 = await client.responses.create({ model: 'lastcall-dev', input: 'once', background: true }, key('resp-1'));
    const r2 = await client.responses.create({ model: 'lastcall-dev', input: 'once', background: true }, key('resp-1'));
    expect(r2.id).toBe(r1.id);
    expect(
      await client.responses
        .create({ model: 'lastcall-dev', input: 'twice', background: true }, key('resp-1'))
        .catch((e: unknown) => e),
    ).toBeInstanceOf(ConflictError);
    await client.responses.cancel(r1.id);

    // Tasks are lastcall's own API; the generic client methods send the same header.
    const task = { prompt: 'an idempotent task', max_steps: 3 };
    const t1 = await client.post<{ id: string }>('/tasks', { body: task, ...key('task-1') });
    const t2 = await client.post<{ id: string }>('/tasks', { body: task, ...key('task-1') });
    expect(t2.id).toBe(t1.id);
    const conflict = await client.post('/tasks', { body: { ...task, max_steps: 4 }, ...key('task-1') }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(ConflictError);
    expect(conflict).toMatchObject({ status: 409 });
  });

  it('the AI SDK (@ai-sdk/openai-compatible + streamText) streams a chat completion end to end', async () => {
    const lastcall = createOpenAICompatible({ name: 'lastcall', baseURL: `${svc.url}/v1`, apiKey: KEY, includeUsage: true });
    const result = streamText({ model: lastcall('lastcall-dev'), prompt: 'through the ai sdk', maxOutputTokens: 30 });
    let text = '';
    for await (const piece of result.textStream) text += piece;
    expect(text).toBe(reference('through the ai sdk', 30));
    expect(await result.finishReason).toBe('length');
    expect((await result.usage).outputTokens).toBe(30);
  });
});

/** The built-in dev upstream never calls tools; the provider emulator does (toolCallProbability 1). */
describe('tool calls through /v1/chat/completions (the provider emulator as upstream)', () => {
  let emulator: EmulatorProcess;
  let svc: ServiceProcess;
  let client: OpenAI;
  const tools = [
    {
      type: 'function' as const,
      function: { name: 'get_weather', description: 'the weather in a city', parameters: { type: 'object', properties: {} } },
    },
  ];

  beforeAll(async () => {
    emulator = await startEmulatorProcess({ profile: 'openai', tokensPerSecond: 400, minTokens: 20, maxTokens: 40 });
    await emulator.control.config({ toolCallProbability: 1 });
    svc = await startService({ OPENAI_BASE_URL: emulator.baseUrl, OPENAI_API_KEY: 'unused', LLM_MODEL: 'emulated-model' });
    client = new OpenAI({ baseURL: `${svc.url}/v1`, apiKey: 'unused' });
  });
  afterAll(async () => {
    svc?.kill('SIGKILL');
    await svc?.exited;
    await emulator?.stop();
  });

  it('tool-call deltas are streamed, stored in the log and replayed by GET /v1/streams/:id', async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'emulated-model', messages: user('what is the weather?'), tools, stream: true })
      .withResponse();
    const id = response.headers.get('lastcall-stream-id')!;
    const deltas: unknown[] = [];
    let finish: string | null = null;
    for await (const c of stream) {
      const choice = c.choices[0];
      if (choice?.delta.tool_calls) deltas.push(...choice.delta.tool_calls);
      if (choice?.finish_reason) finish = choice.finish_reason;
    }
    expect(finish).toBe('tool_calls');
    expect(deltas[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather' } });
    const args = deltas.map((d) => (d as { function: { arguments: string } }).function.arguments).join('');
    expect(args.length).toBeGreaterThan(0);

    const replay = await frames(await fetch(`${svc.url}/v1/streams/${id}`));
    const replayed = replay
      .filter((f) => f.data !== '[DONE]')
      .flatMap((f) => (JSON.parse(f.data) as ChatCompletionChunk).choices[0]?.delta.tool_calls ?? []);
    expect(replayed).toEqual(deltas);

    // Not streamed: the calls assembled into the message.
    const whole = await client.chat.completions.create({ model: 'emulated-model', messages: user('and tomorrow?'), tools });
    expect(whole.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: { content: null, tool_calls: [{ type: 'function', function: { name: 'get_weather' } }] },
    });
  });
});
