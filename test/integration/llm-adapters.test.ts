import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors/errors.js';
import { ChatAdapter, type ContinuingMode } from '../../src/llm/chat.js';
import { chatOpener } from '../../src/llm/chat-transport.js';
import { createLlmFeature } from '../../src/llm/llm.js';
import { chooseResumeMode } from '../../src/llm/modes.js';
import { ResponsesAdapter } from '../../src/llm/responses.js';
import { RestartAdapter } from '../../src/llm/restart.js';
import {
  answerText,
  UpstreamError,
  type GenerationRequest,
  type LogEntry,
  type UpstreamAdapter,
  type UpstreamCursor,
  type UpstreamEvent,
} from '../../src/llm/upstream.js';
import { createLogger } from '../../src/log/logger.js';
import type { CoreDeps } from '../../src/feature.js';
import type { LlmConfig } from '../../src/config/load.js';
import { createUpstreamServer } from '../../src/upstream/server.js';
import type { ProfileName } from '../../testkit/emulator/profiles.js';
import { startEmulatorProcess, type EmulatorProcess } from '../../testkit/emulator/process.js';

/**
 * The adapters against the provider emulator in its own process (the emulator is the provider:
 * nothing here is mocked) and against the dev upstream: each mode takes over a stream from a log
 * built by a first generation that was stopped after a few tokens.
 */
const MODEL = 'emulated-model';
const FAST = { tokensPerSecond: 1500, minTokens: 40, maxTokens: 80 };

let emu: EmulatorProcess;
beforeAll(async () => {
  emu = await startEmulatorProcess({ profile: 'openai', ...FAST });
});
afterAll(() => emu?.stop());
beforeEach(async () => {
  await emu.control.config({ profile: 'openai', ...FAST });
  await emu.control.faults({ breakEveryNthStream: 0, failNextRequests: 0 });
  await emu.control.reset();
});

/** The official client, without retries so failures surface. */
const clientFor = (baseURL: string) => new OpenAI({ baseURL, apiKey: 'test-key', maxRetries: 0 });
const deps = (baseURL = emu.baseUrl, model = MODEL) => {
  const client = clientFor(baseURL);
  return { client, openChat: chatOpener(client), model };
};

const request = (over: Partial<GenerationRequest> = {}): GenerationRequest => ({
  messages: [
    { role: 'system', content: 'You tell short stories.' },
    { role: 'user', content: 'Tell me about the river.' },
  ],
  maxTokens: 200,
  ...over,
});

interface Run {
  events: UpstreamEvent[];
  /** The log the events build, as the generation would persist it. */
  entries: LogEntry[];
  /** The cursor of the last entry written. */
  cursor: UpstreamCursor | undefined;
  error?: unknown;
}

/** Runs a generation; with `stopAfter`, aborts its signal after that many text events (as a draining replica does). */
async function run(
  adapter: UpstreamAdapter,
  req: GenerationRequest,
  from?: { entries: LogEntry[]; cursor: UpstreamCursor | undefined },
  stopAfter?: number,
): Promise<Run> {
  const ac = new AbortController();
  const out: Run = { events: [], entries: [...(from?.entries ?? [])], cursor: from?.cursor };
  let texts = 0;
  try {
    for await (const e of adapter.generate(req, from, ac.signal)) {
      out.events.push(e);
      if (e.type === 'text') out.entries.push({ kind: 'text', text: e.text });
      if (e.type === 'tool') out.entries.push({ kind: 'tool', index: e.index, id: e.id, name: e.name, arguments: e.arguments });
      if (e.type === 'reset') out.entries.push({ kind: 'reset' });
      if ((e.type === 'text' || e.type === 'tool' || e.type === 'reset') && e.cursor) out.cursor = e.cursor;
      if (e.type === 'text' && ++texts === stopAfter) ac.abort();
    }
  } catch (err) {
    out.error = err;
  }
  return out;
}

const textOf = (events: UpstreamEvent[]) => events.flatMap((e) => (e.type === 'text' ? [e.text] : [])).join('');
const count = (events: UpstreamEvent[], type: UpstreamEvent['type']) => events.filter((e) => e.type === type).length;
const finishOf = (events: UpstreamEvent[]) => events.find((e) => e.type === 'finish');

/** Builds a log of `n` tokens with a first generation, then takes it over with a second one. */
async function takeOver(adapter: UpstreamAdapter, req: GenerationRequest, n = 8) {
  const first = await run(adapter, req, undefined, n);
  expect(first.error).toBeUndefined();
  expect(count(first.events, 'text')).toBe(n);
  expect(finishOf(first.events)).toBeUndefined();
  const second = await run(adapter, req, { entries: first.entries, cursor: first.cursor });
  expect(second.error).toBeUndefined();
  return { first, second, prefix: answerText(first.entries) };
}

describe('continuing modes: the upstream continues exactly the persisted prefix', () => {
  const cases: { mode: ContinuingMode; profile: ProfileName; path?: string; extra?: object }[] = [
    { mode: 'vllm', profile: 'vllm', extra: { continue_final_message: true, add_generation_prompt: false } },
    { mode: 'prefix', profile: 'mistral', extra: { prefix: true } },
    { mode: 'prefix', profile: 'deepseek', path: '/beta', extra: { prefix: true } },
    { mode: 'trailing', profile: 'llamacpp' },
    { mode: 'trailing', profile: 'ollama' },
  ];

  for (const c of cases) {
    it(`${c.mode} against ${c.profile}${c.path ?? ''}`, async () => {
      await emu.control.config({ profile: c.profile });
      const base = c.path ? `${emu.url}${c.path}` : emu.baseUrl;
      const adapter = new ChatAdapter(c.mode, deps(base));
      const { first, second, prefix } = await takeOver(adapter, request());

      const [g1, g2] = await emu.control.generations();
      expect(g1).toMatchObject({ mode: 'new' });
      expect(g1!.text.startsWith(prefix)).toBe(true);
      // The second generation was a continuation of exactly the persisted prefix...
      expect(g2).toMatchObject({ mode: 'continued', prefix, status: 'finished', path: `${c.path ?? '/v1'}/chat/completions` });
      expect(g2!.params.extra).toMatchObject(c.extra ?? {});
      // ...asked only for the tokens left...
      expect(g2!.params.maxTokens).toBe(200 - count(first.events, 'text'));
      // ...and the takeover appended the continuation alone: prefix + continuation is one answer,
      // with Mistral's echoed prefix not duplicated.
      expect(textOf(second.events)).toBe(g2!.continuation);
      expect(answerText(second.entries)).toBe(prefix + g2!.continuation);
      if (c.profile === 'mistral') expect(g2!.text).toBe(prefix + g2!.continuation);
      expect(count(second.events, 'reset')).toBe(0);
      expect(finishOf(second.events)).toMatchObject({ finishReason: 'stop', usage: { completionTokens: expect.any(Number) } });
    });
  }

  it('trailing against openai is why restart exists: the trailing assistant message is ignored and answered anew', async () => {
    const { second, prefix } = await takeOver(new ChatAdapter('trailing', deps()), request());
    const [, g2] = await emu.control.generations();
    expect(g2).toMatchObject({ mode: 'new', prefix: null });
    // What the takeover appends is a whole new answer glued to the old prefix: two answers in one.
    expect(textOf(second.events)).toBe(g2!.text);
    expect(answerText(second.entries)).toBe(prefix + g2!.text);
  });

  it('a log with tool calls is regenerated the restart way (fallback), with the tools passed through', async () => {
    const tools = [
      {
        type: 'function',
        function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } },
      },
    ];
    const req = request({ tools, toolChoice: 'required', temperature: 0, seed: 11 });
    const first = await run(new ChatAdapter('trailing', deps()), req, undefined);
    // Stop after the call's header and a first piece of its arguments.
    const partial = first.entries.slice(0, 2);
    expect(partial[0]).toMatchObject({ kind: 'tool', index: 0, name: 'lookup' });
    const second = await run(new ChatAdapter('trailing', deps()), req, { entries: partial, cursor: undefined });
    expect(second.events[0]).toEqual({ type: 'fallback', reason: 'tool_calls' });
    expect(count(second.events, 'reset')).toBe(0);
    const args = (entries: LogEntry[]) => entries.flatMap((e) => (e.kind === 'tool' ? [e.arguments] : [])).join('');
    expect(args(second.entries)).toBe(args(first.entries));
    expect(finishOf(second.events)).toMatchObject({ finishReason: 'tool_calls' });
    const [, g2] = await emu.control.generations();
    expect(g2).toMatchObject({ mode: 'new', params: { temperature: 0, seed: 11 } });
  });

  it('maps failures: 4xx is final, 5xx and 429 are retryable, a cut stream is retryable', async () => {
    await emu.control.config({ profile: 'mistral' });
    const refused = await run(new ChatAdapter('trailing', deps()), request(), {
      entries: [{ kind: 'text', text: 'Once' }],
      cursor: undefined,
    });
    expect(refused.error).toBeInstanceOf(UpstreamError);
    expect(refused.error).toMatchObject({ retryable: false, message: expect.stringContaining('400') });

    for (const failStatus of [503, 429] as const) {
      await emu.control.faults({ failNextRequests: 1, failStatus });
      const failed = await run(new ChatAdapter('prefix', deps()), request());
      expect(failed.error).toMatchObject({ retryable: true, message: expect.stringContaining(String(failStatus)) });
    }

    // With retries configured, a refused first attempt is retried after the delay the answer asks
    // for (the emulator's Retry-After), and the SDK's attempt answers.
    const retrying = new OpenAI({ baseURL: emu.baseUrl, apiKey: 'test-key', maxRetries: 1 });
    await emu.control.faults({ failNextRequests: 1, failStatus: 503 });
    const started = performance.now();
    const retried = await run(
      new ChatAdapter('prefix', { client: retrying, openChat: chatOpener(retrying), model: MODEL }),
      request(),
    );
    expect(retried.error).toBeUndefined();
    expect(finishOf(retried.events)).toBeDefined();
    expect(performance.now() - started).toBeGreaterThanOrEqual(900);

    await emu.control.faults({ breakEveryNthStream: 1, breakAfterTokens: 4 });
    const cut = await run(new ChatAdapter('prefix', deps()), request());
    expect(count(cut.events, 'text')).toBe(4);
    expect(cut.error).toMatchObject({ name: 'UpstreamError', retryable: true });
  });
});

describe('restart: regenerate and compare with the log', () => {
  it('a sampling upstream: exactly one reset, then the whole new answer', async () => {
    const { second } = await takeOver(new RestartAdapter(deps()), request());
    const [, g2] = await emu.control.generations();
    expect(g2).toMatchObject({ mode: 'new' });
    expect(count(second.events, 'reset')).toBe(1);
    const afterReset = second.events.slice(second.events.findIndex((e) => e.type === 'reset') + 1);
    // The first text after the reset carries the whole new answer so far, the rest follows.
    expect(g2!.text.startsWith((afterReset[0] as { text: string }).text)).toBe(true);
    expect(answerText(second.entries)).toBe(g2!.text);
  });

  it('temperature 0 with a seed: no reset, only the continuation is appended', async () => {
    const req = request({ temperature: 0, seed: 42 });
    const { second, prefix } = await takeOver(new RestartAdapter(deps()), req);
    const [g1, g2] = await emu.control.generations();
    // The same words again (the first generation was stopped, so its record holds fewer of them).
    expect(g2!.text.startsWith(g1!.text)).toBe(true);
    expect(count(second.events, 'reset')).toBe(0);
    expect(second.events.filter((e) => e.type === 'regenerated').reduce((n, e) => n + e.tokens, 0)).toBe(8);
    expect(textOf(second.events)).toBe(g2!.text.slice(prefix.length));
    expect(answerText(second.entries)).toBe(g2!.text);
  });

  it('the dev upstream (deterministic): no reset, and trailing continues it too', async () => {
    const dev = createUpstreamServer({ tokensPerSecond: 2000 });
    const baseUrl = await dev.listen();
    try {
      const whole = await run(new RestartAdapter(deps(baseUrl, 'lastcall-dev')), request({ maxTokens: 60 }));
      for (const adapter of [
        new RestartAdapter(deps(baseUrl, 'lastcall-dev')),
        new ChatAdapter('trailing', deps(baseUrl, 'lastcall-dev')),
      ]) {
        const { second } = await takeOver(adapter, request({ maxTokens: 60 }), 10);
        expect(count(second.events, 'reset')).toBe(0);
        expect(answerText(second.entries)).toBe(textOf(whole.events));
        expect(finishOf(second.events)).toMatchObject({ finishReason: 'length' });
      }
    } finally {
      await dev.close();
    }
  });
});

describe('responses: re-attach to the upstream background Response', () => {
  const official = () => clientFor(emu.baseUrl);
  const finished = async (id: string) => {
    for (;;) {
      const r = await official().responses.retrieve(id);
      if (r.status !== 'queued' && r.status !== 'in_progress') return r;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it('a takeover mid-generation continues exactly: no token regenerated, all text = the stored output_text', async () => {
    // Slow enough that the Response is still generating when the takeover re-attaches.
    await emu.control.config({ tokensPerSecond: 150, minTokens: 30, maxTokens: 40 });
    const adapter = new ResponsesAdapter(deps());
    const first = await run(adapter, request(), undefined, 5);
    expect(first.events[0]).toMatchObject({ type: 'cursor', cursor: { responseId: expect.stringMatching(/^resp_/) } });
    expect(first.events.filter((e) => e.type === 'text').every((e) => e.cursor !== undefined)).toBe(true);
    const id = first.cursor!.responseId;
    // The provider keeps generating after the local read stopped.
    expect((await official().responses.retrieve(id)).status).toBe('in_progress');

    const second = await run(adapter, request(), { entries: first.entries, cursor: first.cursor });
    expect(second.error).toBeUndefined();
    expect(second.events[0]).toEqual({ type: 'reattached' });
    expect(count(second.events, 'reset') + count(second.events, 'regenerated') + count(second.events, 'fallback')).toBe(0);
    const stored = await finished(id);
    expect(stored.status).toBe('completed');
    expect(answerText(second.entries)).toBe(stored.output_text);
    expect(finishOf(second.events)).toMatchObject({
      finishReason: 'stop',
      usage: { completionTokens: stored.usage!.output_tokens },
    });
    const gens = await emu.control.generations();
    expect(gens).toHaveLength(1);
    expect(gens[0]).toMatchObject({
      endpoint: 'responses',
      upstreamId: id,
      params: { extra: { background: true, store: true } },
    });
  });

  it('a cut connection is retryable; the next call re-attaches with the new cursor after the Response finished', async () => {
    await emu.control.faults({ breakEveryNthStream: 1, breakAfterTokens: 6 });
    const adapter = new ResponsesAdapter(deps());
    const first = await run(adapter, request());
    expect(first.error).toMatchObject({ name: 'UpstreamError', retryable: true });
    expect(count(first.events, 'text')).toBe(6);
    await emu.control.faults({ breakEveryNthStream: 0 });
    const stored = await finished(first.cursor!.responseId);
    const second = await run(adapter, request(), { entries: first.entries, cursor: first.cursor });
    expect(second.events[0]).toEqual({ type: 'reattached' });
    expect(answerText(second.entries)).toBe(stored.output_text);
  });

  it('a Response the upstream forgot (404): fallback, one reset, the new answer, and the new cursor', async () => {
    await emu.control.config({ tokensPerSecond: 300 });
    const adapter = new ResponsesAdapter(deps());
    const first = await run(adapter, request(), undefined, 5);
    await emu.control.forget(first.cursor!.responseId);
    const second = await run(adapter, request(), { entries: first.entries, cursor: first.cursor });
    expect(second.error).toBeUndefined();
    expect(second.events[0]).toEqual({ type: 'fallback', reason: 'response_not_found' });
    expect(count(second.events, 'reattached')).toBe(0);
    expect(count(second.events, 'reset')).toBe(1);
    const next = second.events.find((e) => e.type === 'cursor');
    expect(next).toBeDefined();
    const newId = (next as { cursor: UpstreamCursor }).cursor.responseId;
    expect(newId).not.toBe(first.cursor!.responseId);
    expect(second.cursor!.responseId).toBe(newId);
    expect(answerText(second.entries)).toBe((await finished(newId)).output_text);

    // A log without a cursor (written in another mode) falls back the same way.
    const uncursored = await run(adapter, request(), { entries: first.entries, cursor: undefined });
    expect(uncursored.events[0]).toEqual({ type: 'fallback', reason: 'no_cursor' });
    expect(count(uncursored.events, 'reset')).toBe(1);
  });

  it('cancel makes the stored Response cancelled; again, or for an unknown id, is no error', async () => {
    await emu.control.config({ tokensPerSecond: 100 });
    const adapter = new ResponsesAdapter(deps());
    const first = await run(adapter, request(), undefined, 3);
    await adapter.cancel(first.cursor);
    expect((await official().responses.retrieve(first.cursor!.responseId)).status).toBe('cancelled');
    await adapter.cancel(first.cursor);
    await adapter.cancel({ responseId: 'resp_unknown', sequence: 3 });
    await adapter.cancel(undefined);
    // A takeover of a cancelled Response stops for good.
    const after = await run(adapter, request(), { entries: first.entries, cursor: first.cursor });
    expect(after.error).toMatchObject({ name: 'UpstreamError', retryable: false });
  });

  it('max_output_tokens: an incomplete Response finishes with length', async () => {
    const done = await run(new ResponsesAdapter(deps()), request({ maxTokens: 5 }));
    expect(count(done.events, 'text')).toBe(5);
    expect(finishOf(done.events)).toMatchObject({ finishReason: 'length' });
  });
});

describe('start-up: the resume mode', () => {
  it('defaults to trailing for the dev upstream and restart for any other, without probing', async () => {
    const client = clientFor('http://127.0.0.1:9/v1');
    expect(await chooseResumeMode({ configured: undefined, upstream: 'dev', client, baseUrl: '' })).toEqual({
      mode: 'trailing',
      source: 'default',
    });
    expect(await chooseResumeMode({ configured: undefined, upstream: 'external', client, baseUrl: '' })).toEqual({
      mode: 'restart',
      source: 'default',
    });
    expect(await chooseResumeMode({ configured: 'vllm', upstream: 'external', client, baseUrl: '' })).toMatchObject({
      mode: 'vllm',
    });
  });

  const refusal = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  };

  it('responses: accepted where /v1/responses exists, refused on one line where it does not', async () => {
    const args = {
      configured: 'responses' as const,
      upstream: 'external' as const,
      client: clientFor(emu.baseUrl),
      baseUrl: emu.baseUrl,
    };
    expect(await chooseResumeMode(args)).toEqual({ mode: 'responses', source: 'configured' });
    await emu.control.config({ profile: 'no-responses' });
    expect(await refusal(chooseResumeMode(args))).toMatch(/LLM_RESUME_MODE=responses.*no Responses API.*404/);
    // The probe started no generation.
    expect(await emu.control.generations()).toEqual([]);
  });

  it('responses with the dev upstream is refused before anything starts; the default feature resumes in trailing mode', async () => {
    const core = { logger: createLogger('silent') } as unknown as CoreDeps;
    const config: LlmConfig = {
      baseUrl: undefined,
      apiKey: undefined,
      model: 'lastcall-dev',
      devTokensPerSecond: 2000,
      maxConnections: 8,
      resumeMode: 'responses',
    };
    expect(await refusal(createLlmFeature(core, config))).toMatch(/LLM_RESUME_MODE=responses.*OPENAI_BASE_URL is unset/);

    const feature = await createLlmFeature(core, { ...config, resumeMode: undefined });
    try {
      expect(feature.llm).toMatchObject({ upstream: 'dev', mode: 'trailing', adapter: { mode: 'trailing' } });
      const { second } = await takeOver(feature.llm.adapter, request({ maxTokens: 40 }), 5);
      expect(finishOf(second.events)).toMatchObject({ finishReason: 'length' });
    } finally {
      const deadline = { signal: new AbortController().signal };
      for (const p of feature.participants) await p.close(deadline as never);
    }
  });

  it('an upstream without /v1/responses refuses responses mode through the feature too', async () => {
    await emu.control.config({ profile: 'no-responses' });
    const core = { logger: createLogger('silent') } as unknown as CoreDeps;
    const config: LlmConfig = {
      baseUrl: emu.baseUrl,
      apiKey: undefined,
      model: MODEL,
      devTokensPerSecond: 50,
      maxConnections: 8,
      resumeMode: 'responses',
    };
    expect(await refusal(createLlmFeature(core, config))).toMatch(/has no Responses API/);
    const feature = await createLlmFeature(core, { ...config, resumeMode: undefined });
    expect(feature.llm).toMatchObject({ upstream: 'external', mode: 'restart' });
    for (const p of feature.participants) await p.close({ signal: new AbortController().signal } as never);
  });
});
