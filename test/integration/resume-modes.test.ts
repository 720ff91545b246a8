import pgClient from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resumeStream, streamChat, type StreamEvent, type StreamResult } from '../../src/client/index.js';
import { plan } from '../../src/upstream/text.js';
import type { Generation } from '../../testkit/emulator/control.js';
import { startEmulatorProcess, type EmulatorProcess } from '../../testkit/emulator/process.js';
import type { ProfileName } from '../../testkit/emulator/profiles.js';
import { forwarder } from '../../testkit/forwarder.js';
import { startPostgres, type PostgresInstance } from '../../testkit/postgres.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

/**
 * Every resume mode across a real handoff: two replicas on one PostgreSQL behind a forwarder, the
 * provider emulator (which samples: no two generations alike) in its own process, and a client
 * that follows `end` and cut connections. What the upstream generated is read back from the
 * emulator's own record, never from lastcall, so "the client got one coherent answer" is checked
 * against what the provider actually said.
 */
const TOKENS_PER_SECOND = 60; // a 300-token answer takes 5 s, longer than the 3 s shutdown budget
const ANSWER = { minTokens: 300, maxTokens: 320 };
const SIGNAL_AT_TOKEN = 40;

let pg: PostgresInstance;
let emu: EmulatorProcess;
beforeAll(async () => {
  [pg, emu] = await Promise.all([startPostgres(), startEmulatorProcess({ tokensPerSecond: TOKENS_PER_SECOND, ...ANSWER })]);
});
afterAll(async () => {
  await Promise.all([emu?.stop(), pg?.stop()]);
});

let run = 0;
interface Setup {
  mode: 'responses' | 'vllm' | 'prefix' | 'trailing' | 'restart';
  /** The emulator's profile; none runs both replicas on the dev upstream. */
  profile?: ProfileName;
  persist?: 'after-send' | 'before-send';
  /** STREAM_LOG_FORMAT of both replicas (rows by default). */
  logFormat?: 'rows' | 'batches';
}

async function replicas(setup: Setup): Promise<[ServiceProcess, ServiceProcess]> {
  run++;
  if (setup.profile) await emu.control.config({ profile: setup.profile, tokensPerSecond: TOKENS_PER_SECOND, ...ANSWER });
  await emu.control.reset();
  const env = (replica: string) => ({
    DATABASE_URL: pg.url,
    REPLICA_ID: `${replica}-${run}`,
    LLM_RESUME_MODE: setup.mode,
    STREAM_PERSIST: setup.persist ?? 'after-send',
    STREAM_LOG_FORMAT: setup.logFormat ?? 'rows',
    TERMINATION_GRACE_PERIOD_SECONDS: '4',
    SHUTDOWN_SAFETY_MARGIN_SECONDS: '1',
    TASK_LEASE_SECONDS: '2',
    ...(setup.profile
      ? { OPENAI_BASE_URL: emu.baseUrl, OPENAI_API_KEY: 'emulator-key', LLM_MODEL: 'emulated-model' }
      : { DEV_UPSTREAM_TOKENS_PER_SECOND: String(TOKENS_PER_SECOND) }),
  });
  return Promise.all([startService(env('replica-a')), startService(env('replica-b'))]);
}

const question = (tag: string) => ({
  messages: [{ role: 'user', content: `${tag}: tell me about draining pods` }],
  max_tokens: 400,
});

/** Streams through a forwarder at A; at token 40 points it at B and signals A. */
async function streamAcross(a: ServiceProcess, b: ServiceProcess, signal: NodeJS.Signals, body: ReturnType<typeof question>) {
  const proxy = forwarder();
  const url = await proxy.listen();
  proxy.point(a.port);
  const onEvent = (e: StreamEvent) => {
    if (e.event === 'token' && e.id === SIGNAL_AT_TOKEN) {
      proxy.point(b.port);
      a.kill(signal);
    }
  };
  const result = await streamChat(url, body, { onEvent, maxAttempts: 100 }).finally(() => proxy.close());
  expect(result.error).toBeUndefined();
  expect(result.resumes).toBeGreaterThanOrEqual(1);
  const exit = await a.exited;
  expect(signal === 'SIGKILL' ? exit.signal : exit.code).toBe(signal === 'SIGKILL' ? 'SIGKILL' : 0);
  return result;
}

/** Where a stream's log is kept: per-entry rows, batch rows, the compacted row. */
async function storedLog(streamId: string) {
  const db = new pgClient.Client({ connectionString: pg.url });
  await db.connect();
  try {
    const { rows } = await db.query<{ chunks: number; batches: number; compacted: number }>(
      `SELECT (SELECT count(*)::int FROM stream_chunks WHERE stream_id = $1) AS chunks,
              (SELECT count(*)::int FROM stream_batches WHERE stream_id = $1) AS batches,
              (SELECT count(*)::int FROM stream_logs WHERE stream_id = $1) AS compacted`,
      [streamId],
    );
    return rows[0];
  } finally {
    await db.end();
  }
}

async function chatGenerations(): Promise<Generation[]> {
  return (await emu.control.generations()).filter((g) => g.endpoint === 'chat');
}

/** A continuing mode: B's generation continued exactly the prefix A persisted, and the client got prefix + continuation. */
async function expectContinued(result: StreamResult, b: ServiceProcess, via: 'handoff' | 'expiry') {
  const [first, second, ...more] = await chatGenerations();
  expect(more).toEqual([]);
  expect(first!.mode).toBe('new');
  expect(second!.mode).toBe('continued');
  expect(second!.prefix!.length).toBeGreaterThan(0);
  expect(first!.text.startsWith(second!.prefix!)).toBe(true);
  expect(result.text).toBe(second!.prefix! + second!.continuation);
  expect(result.resets).toBe(0);
  expect(await b.metric(`lastcall_stream_takeovers_total{via="${via}"`)).toBe(1);
  expect(await b.metric('lastcall_stream_regenerated_tokens_total')).toBe(0);
  expect(await b.metric('lastcall_stream_resets_total')).toBe(0);
}

/** Restart against a sampling provider: B's new answer replaced A's, announced by exactly one reset. */
async function expectRestarted(result: StreamResult, b: ServiceProcess) {
  const [first, second, ...more] = await chatGenerations();
  expect(more).toEqual([]);
  expect(second!.mode).toBe('new');
  expect(first!.text).not.toBe(second!.text);
  expect(result.resets).toBe(1);
  expect(result.text).toBe(second!.text);
  expect(await b.metric('lastcall_stream_resets_total')).toBe(1);
}

/** Responses: B re-attached to the one upstream generation; the client's text is the provider's stored output. */
async function expectReattached(result: StreamResult, b: ServiceProcess) {
  const generations = await emu.control.generations();
  expect(generations).toHaveLength(1);
  const [only] = generations;
  expect(only!.endpoint).toBe('responses');
  const stored = (await (await fetch(`${emu.baseUrl}/responses/${only!.upstreamId}`)).json()) as {
    status: string;
    output: { content?: { type: string; text: string }[] }[];
  };
  expect(stored.status).toBe('completed');
  const outputText = stored.output
    .flatMap((o) => o.content ?? [])
    .map((c) => c.text)
    .join('');
  expect(result.text).toBe(outputText);
  expect(result.resets).toBe(0);
  expect(await b.metric('lastcall_stream_reattaches_total')).toBeGreaterThanOrEqual(1);
  expect(await b.metric('lastcall_stream_regenerated_tokens_total')).toBe(0);
}

interface Case {
  name: string;
  setup: Setup;
  expect: (
    result: StreamResult,
    b: ServiceProcess,
    via: 'handoff' | 'expiry',
    body: ReturnType<typeof question>,
  ) => Promise<void>;
}

/** Restart against the dev upstream, which is deterministic: the regenerated text matches the log. */
const restartedSilently: Case['expect'] = async (result, b, _via, body) => {
  expect(result.resets).toBe(0);
  expect(result.text).toBe(plan(body.messages, body.max_tokens).tokens.join(''));
  expect(await b.metric('lastcall_stream_regenerated_tokens_total')).toBeGreaterThan(0);
  expect(await b.metric('lastcall_stream_resets_total')).toBe(0);
};

const CASES: Case[] = [
  {
    name: 'responses (openai): re-attaches to the background Response; the text is its stored output',
    setup: { mode: 'responses', profile: 'openai' },
    expect: expectReattached,
  },
  {
    name: 'vllm: continues the persisted prefix with continue_final_message',
    setup: { mode: 'vllm', profile: 'vllm' },
    expect: expectContinued,
  },
  {
    name: 'prefix (mistral): continues the persisted prefix marked "prefix": true, the echo stripped',
    setup: { mode: 'prefix', profile: 'mistral' },
    expect: expectContinued,
  },
  {
    name: 'trailing (llama.cpp): continues the persisted prefix as a trailing assistant message',
    setup: { mode: 'trailing', profile: 'llamacpp' },
    expect: expectContinued,
  },
  {
    name: 'restart (openai, which cannot continue): exactly one reset, then the whole new answer',
    setup: { mode: 'restart', profile: 'openai' },
    expect: expectRestarted,
  },
  {
    // B continues from A's log as batch rows: the prefix it sends must be exactly what A wrote.
    name: 'prefix (mistral) with the log written in batches: continues the persisted prefix exactly',
    setup: { mode: 'prefix', profile: 'mistral', logFormat: 'batches' },
    expect: expectContinued,
  },
  {
    name: 'restart (openai) with the log written in batches: exactly one reset, then the whole new answer',
    setup: { mode: 'restart', profile: 'openai', logFormat: 'batches' },
    expect: expectRestarted,
  },
  {
    name: 'restart against the deterministic dev upstream: no reset at all',
    setup: { mode: 'restart' },
    expect: restartedSilently,
  },
];

describe.each([
  { signal: 'SIGTERM' as const, via: 'handoff' as const },
  { signal: 'SIGKILL' as const, via: 'expiry' as const },
])('resume modes after $signal (two replicas, one PostgreSQL, the emulator sampling)', ({ signal, via }) => {
  let b: ServiceProcess | undefined;
  beforeEach(() => b?.kill('SIGKILL'));
  afterAll(() => b?.kill('SIGKILL'));

  it.each(CASES)('$name', async ({ setup, expect: check }) => {
    // After a SIGKILL a sampling upstream's tokens sent but not yet persisted are lost: the client
    // must never have had them, so those modes persist before sending (the documented setting).
    const persist = signal === 'SIGKILL' && setup.profile && setup.mode !== 'responses' ? 'before-send' : 'after-send';
    const [a, replicaB] = await replicas({ ...setup, persist });
    b = replicaB;
    const body = question(`${signal} ${run}`);
    const result = await streamAcross(a, b, signal, body);
    await check(result, b, via, body);
    if (setup.logFormat === 'batches') {
      // Written in batches and compacted once finished: no per-entry row was ever written.
      const log = await storedLog(result.streamId);
      expect(log).toEqual({ chunks: 0, batches: 0, compacted: 1 });
    }
    if (setup.mode === 'vllm') {
      const [, second] = await chatGenerations();
      expect(second!.params.extra).toMatchObject({ continue_final_message: true, add_generation_prompt: false });
    }
  });
});

describe('responses with no client during the handoff', () => {
  it('the answer keeps generating upstream; a client back after the handoff reads it whole', async () => {
    const [a, b] = await replicas({ mode: 'responses', profile: 'openai' });
    try {
      const proxy = forwarder();
      const url = await proxy.listen();
      proxy.point(a.port);
      const leave = new AbortController();
      let partial = '';
      let streamId = '';
      let lastSeq = 0;
      await streamChat(url, question(`alone ${run}`), {
        signal: leave.signal,
        onStreamId: (id) => (streamId = id),
        onEvent: (e) => {
          if (e.event !== 'token') return;
          partial += String((e.data as { text: string }).text);
          lastSeq = e.id!;
          if (lastSeq === 20) leave.abort();
        },
      }).catch((err: unknown) => {
        if (!leave.signal.aborted) throw err;
      });
      proxy.point(b.port);
      a.kill('SIGTERM');
      expect((await a.exited).code).toBe(0);
      const rest = await resumeStream(url, streamId, lastSeq).finally(() => proxy.close());
      expect(rest.error).toBeUndefined();
      await expectReattached({ ...rest, text: partial + rest.text }, b);
    } finally {
      b.kill('SIGKILL');
    }
  });
});
