import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProfileName } from '../../testkit/emulator/profiles.js';
import { MODEL, startHarness, type Harness } from './harness.js';

// A persisted partial answer, cut mid-sentence, as lastcall holds it after a pod went away.
const PREFIX = 'The river carries';
// vLLM's continuation request: continue the final message instead of opening a new assistant turn.
const CONTINUE = { continue_final_message: true, add_generation_prompt: false };
const conversation = (last: Record<string, unknown> = {}) => [
  { role: 'user', content: 'Tell me about the river.' },
  { role: 'assistant', content: PREFIX, ...last },
];

describe('emulator: what each provider profile does with a trailing assistant message', () => {
  let h: Harness;
  const use = (profile: ProfileName, thinking = false) => h.control.config({ profile, thinking });
  const chat = (body: Record<string, unknown>, path = '/v1/chat/completions') => h.post(path, { model: MODEL, ...body });
  const lastGeneration = async () => (await h.control.generations()).at(-1)!;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  beforeEach(() => h.control.reset());

  it('openai (and no-responses): answers a new turn, ignoring the trailing assistant message', async () => {
    for (const profile of ['openai', 'no-responses'] as const) {
      await use(profile);
      const r = await chat({ messages: conversation() });
      expect(r.status).toBe(200);
      expect(await lastGeneration()).toMatchObject({ profile, mode: 'new', prefix: null });
      expect(r.body.choices[0].message.content).toMatch(/^[A-Z]/);
    }
  });

  it('vllm: continues only with continue_final_message and add_generation_prompt false', async () => {
    await use('vllm');
    expect((await chat({ messages: conversation() })).status).toBe(200);
    expect((await lastGeneration()).mode).toBe('new');

    const r = await chat({ messages: conversation(), ...CONTINUE });
    const gen = await lastGeneration();
    expect(gen).toMatchObject({ mode: 'continued', prefix: PREFIX, params: { extra: { ...CONTINUE } } });
    // The content is the continuation alone: the client's full text is the persisted prefix plus it.
    expect(r.body.choices[0].message.content).toBe(gen.continuation);
    expect(gen.continuation).toMatch(/^ [a-z]/);

    const echoed = await chat({ messages: conversation(), ...CONTINUE, echo: true });
    expect(echoed.body.choices[0].message.content).toBe(PREFIX + (await lastGeneration()).continuation);

    const both = await chat({ messages: conversation(), continue_final_message: true, add_generation_prompt: true });
    expect(both).toEqual({
      status: 400,
      body: {
        error: {
          message: 'Cannot set both `continue_final_message` and `add_generation_prompt` to True.',
          type: 'BadRequestError',
          param: null,
          code: 400,
        },
      },
    });
    const notAssistant = await chat({ messages: [{ role: 'user', content: 'hi' }], ...CONTINUE });
    expect(notAssistant.status).toBe(400);
  });

  it('vllm: the continuation streams too, and the SDK passes the extra body fields', async () => {
    await use('vllm');
    // vLLM's own fields ride along in the body, as its docs show with the OpenAI client's extra_body.
    const params: OpenAI.Chat.ChatCompletionCreateParamsStreaming & typeof CONTINUE = {
      model: MODEL,
      messages: conversation() as OpenAI.Chat.ChatCompletionMessageParam[],
      stream: true,
      ...CONTINUE,
    };
    const stream = await h.client.chat.completions.create(params);
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(await lastGeneration()).toMatchObject({ mode: 'continued', prefix: PREFIX, continuation: text });
  });

  it('mistral: refuses a trailing assistant without prefix, continues one with prefix: true and echoes it', async () => {
    await use('mistral');
    expect(await chat({ messages: conversation() })).toEqual({
      status: 400,
      body: {
        object: 'error',
        message: 'Expected last role User or Tool (or Assistant with prefix True) for serving but got assistant',
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    });
    const r = await chat({ messages: conversation({ prefix: true }) });
    const gen = await lastGeneration();
    expect(gen).toMatchObject({ mode: 'continued', prefix: PREFIX, params: { extra: { prefix: true } } });
    expect(r.body.choices[0].message.content).toBe(PREFIX + gen.continuation);
    expect(gen.text).toBe(PREFIX + gen.continuation);
  });

  it('deepseek: continues prefix: true on the beta base URL only; the reasoner refuses a bare trailing assistant', async () => {
    await use('deepseek');
    const outsideBeta = await chat({ messages: conversation({ prefix: true }) });
    expect(outsideBeta.status).toBe(400);
    expect(outsideBeta.body.error.message).toContain('prefix is only available when using beta api');

    const r = await chat({ messages: conversation({ prefix: true }) }, '/beta/chat/completions');
    const gen = await lastGeneration();
    expect(gen).toMatchObject({ mode: 'continued', prefix: PREFIX, path: '/beta/chat/completions' });
    expect(r.body.choices[0].message.content).toBe(gen.continuation);

    expect((await chat({ messages: conversation() })).status).toBe(200);
    expect((await lastGeneration()).mode).toBe('new');
    await use('deepseek', true);
    const reasoner = await chat({ messages: conversation() });
    expect(reasoner.status).toBe(400);
    expect(reasoner.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request_error' });
  });

  it('llamacpp: continues a trailing assistant as a prefill, refused while thinking is on', async () => {
    await use('llamacpp');
    const r = await chat({ messages: conversation() });
    const gen = await lastGeneration();
    expect(gen).toMatchObject({ mode: 'continued', prefix: PREFIX });
    expect(r.body.choices[0].message.content).toBe(gen.continuation);

    const refusal = {
      status: 400,
      body: {
        error: {
          code: 400,
          message: 'Assistant response prefill is incompatible with enable_thinking.',
          type: 'invalid_request_error',
        },
      },
    };
    expect(await chat({ messages: conversation(), chat_template_kwargs: { enable_thinking: true } })).toEqual(refusal);
    await use('llamacpp', true);
    expect(await chat({ messages: conversation() })).toEqual(refusal);
    expect((await chat({ messages: conversation(), chat_template_kwargs: { enable_thinking: false } })).status).toBe(200);
    expect((await lastGeneration()).mode).toBe('continued');
  });

  it('ollama: continues a trailing assistant; its Responses API is stateless', async () => {
    await use('ollama');
    await chat({ messages: conversation() });
    expect(await lastGeneration()).toMatchObject({ mode: 'continued', prefix: PREFIX });

    const r = await h.client.responses.create({ model: MODEL, input: 'Hi' });
    expect(r.status).toBe('completed');
    await expect(h.client.responses.retrieve(r.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const background = h.client.responses.create({ model: MODEL, input: 'Hi', background: true });
    await expect(background).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('profiles without a Responses API answer /v1/responses with 404', async () => {
    for (const profile of ['no-responses', 'vllm', 'mistral', 'deepseek', 'llamacpp'] as const) {
      await use(profile);
      await expect(h.client.responses.create({ model: MODEL, input: 'Hi' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    }
  });

  it('continues deterministically for temperature 0 with a seed, as a pure function of messages and seed', async () => {
    await use('vllm');
    const body = { messages: conversation(), ...CONTINUE, temperature: 0, seed: 42 };
    const [a, b] = await Promise.all([chat(body), chat(body)]);
    expect(a.body.choices[0].message.content).toBe(b.body.choices[0].message.content);
  });
});
