import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MODEL, startHarness, type Harness } from './harness.js';

const ask = (content: string) => [{ role: 'user' as const, content }];
const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, days: { type: 'integer' } },
      required: ['city', 'days'],
    },
  },
};

describe('emulator: chat completions through the official openai client', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => h.control.reset());

  it('lists the served model', async () => {
    const ids: string[] = [];
    for await (const m of h.client.models.list()) ids.push(m.id);
    expect(ids).toEqual([MODEL]);
  });

  it('answers without streaming, with usage and a matching generation record', async () => {
    const c = await h.client.chat.completions.create({ model: MODEL, messages: ask('Hello there') });
    expect(c).toMatchObject({ object: 'chat.completion', model: MODEL, choices: [{ index: 0, finish_reason: 'stop' }] });
    const text = c.choices[0]!.message.content!;
    expect(text.length).toBeGreaterThan(20);
    expect(c.usage!.completion_tokens).toBeGreaterThanOrEqual(20);
    expect(c.usage!.total_tokens).toBe(c.usage!.prompt_tokens + c.usage!.completion_tokens);
    const [gen] = await h.control.generations();
    expect(gen).toMatchObject({ endpoint: 'chat', upstreamId: c.id, mode: 'new', prefix: null, text, finishReason: 'stop' });
    expect(gen!.status).toBe('finished');
  });

  it('streams chunks, then a usage chunk with no choices, then [DONE]', async () => {
    const stream = await h.client.chat.completions.create({
      model: MODEL,
      messages: ask('Stream please'),
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.completion_tokens).toBe(chunks.filter((c) => c.choices[0]?.delta.content).length);
    const others = chunks.slice(0, -1);
    expect(others.every((c) => c.usage === null && c.object === 'chat.completion.chunk' && c.id === last.id)).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect((await h.control.generations())[0]!.text).toBe(text);
  });

  it('stops at max_tokens with finish_reason length', async () => {
    const stream = await h.client.chat.completions.create({
      model: MODEL,
      messages: ask('Long answer'),
      stream: true,
      max_completion_tokens: 5,
    });
    const deltas: string[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) deltas.push(chunk.choices[0].delta.content);
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(deltas).toHaveLength(5);
    expect(finish).toBe('length');
    expect((await h.control.generations())[0]!.params.maxTokens).toBe(5);
  });

  it('cuts the answer before a stop sequence', async () => {
    const c = await h.client.chat.completions.create({ model: MODEL, messages: ask('One sentence'), stop: ['.', '?'] });
    expect(c.choices[0]!.message.content).not.toMatch(/[.?]/);
    expect(c.choices[0]!.finish_reason).toBe('stop');
  });

  it('returns n independent choices', async () => {
    const c = await h.client.chat.completions.create({ model: MODEL, messages: ask('Three ways'), n: 3 });
    expect(c.choices.map((x) => x.index)).toEqual([0, 1, 2]);
    expect(new Set(c.choices.map((x) => x.message.content)).size).toBe(3);
    const stream = await h.client.chat.completions.create({ model: MODEL, messages: ask('Three ways'), n: 3, stream: true });
    const finished = new Set<number>();
    for await (const chunk of stream) for (const ch of chunk.choices) if (ch.finish_reason) finished.add(ch.index);
    expect([...finished].sort()).toEqual([0, 1, 2]);
  });

  it('streams a tool call whose arguments arrive in pieces, which the SDK stream helper assembles', async () => {
    const stream = await h.client.chat.completions.create({
      model: MODEL,
      messages: ask('Weather in Lyon?'),
      tools: [weatherTool],
      tool_choice: 'required',
      stream: true,
    });
    const calls = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      calls.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(calls[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(calls[0]!.id).toMatch(/^call_/);
    expect(calls.length).toBeGreaterThan(2);
    const args = JSON.parse(calls.map((c) => c.function?.arguments ?? '').join(''));
    expect(args).toMatchObject({ city: expect.any(String), days: expect.any(Number) });
    expect(finish).toBe('tool_calls');

    const final = await h.client.chat.completions
      .stream({
        model: MODEL,
        messages: ask('Weather?'),
        tools: [weatherTool],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
      })
      .finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toMatchObject({ city: expect.any(String) });
  });

  it('samples: the same prompt twice differs, temperature 0 with a seed repeats exactly', async () => {
    const once = () => h.client.chat.completions.create({ model: MODEL, messages: ask('Same prompt') });
    const [a, b] = await Promise.all([once(), once()]);
    expect(a.choices[0]!.message.content).not.toBe(b.choices[0]!.message.content);
    const seeded = (seed: number) =>
      h.client.chat.completions.create({ model: MODEL, messages: ask('Same prompt'), temperature: 0, seed });
    const [c, d, e] = await Promise.all([seeded(7), seeded(7), seeded(8)]);
    expect(c.choices[0]!.message.content).toBe(d.choices[0]!.message.content);
    expect(c.choices[0]!.message.content).not.toBe(e.choices[0]!.message.content);
  });

  it('paces tokens at the configured rate', async () => {
    await h.control.config({ tokensPerSecond: 100 });
    try {
      const started = performance.now();
      await h.client.chat.completions.create({ model: MODEL, messages: ask('Timed'), max_tokens: 20 });
      expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    } finally {
      await h.control.config({ tokensPerSecond: 2000 });
    }
  });

  it('answers bad input with the OpenAI 4xx error shape', async () => {
    const bad = h.client.chat.completions.create({ model: MODEL, messages: [] });
    await expect(bad).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(bad).rejects.toMatchObject({ status: 400, param: 'messages', type: 'invalid_request_error' });
    await expect(h.client.chat.completions.create({ model: MODEL, messages: ask('x'), temperature: 3 })).rejects.toMatchObject({
      status: 400,
      param: 'temperature',
    });
    await expect(h.client.chat.completions.create({ model: 'gpt-nope', messages: ask('x') })).rejects.toMatchObject({
      constructor: OpenAI.NotFoundError,
      code: 'model_not_found',
    });
    const raw = await fetch(`${h.address.baseUrl}/chat/completions`, { method: 'POST', body: '{not json' });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toMatchObject({
      error: { type: 'invalid_request_error', message: expect.stringContaining('JSON') },
    });
    const wizard = await h.post('/v1/chat/completions', { model: MODEL, messages: [{ role: 'wizard', content: 'x' }] });
    expect(wizard.body).toMatchObject({ error: { param: 'messages[0].role' } });
  });

  it('requires the API key when one is configured', async () => {
    await h.control.config({ apiKey: 'secret' });
    try {
      await expect(h.client.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
      const authed = h.client.withOptions({ apiKey: 'secret' });
      expect((await authed.models.list()).data).toHaveLength(1);
    } finally {
      await h.control.config({ apiKey: null });
    }
  });
});
