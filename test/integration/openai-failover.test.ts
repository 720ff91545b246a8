import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { describe, expect, it } from 'vitest';
import { plan } from '../../src/upstream/text.js';
import { forwarder, type Forwarder } from '../../testkit/forwarder.js';
import { useFailoverPair } from '../../testkit/failover-pair.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

const KEY = 'openai-failover-key-0123456789ab';
const BUDGET_MS = 5_000; // grace 6 − margin 1
const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The first prompt whose natural answer is between `lo` and `hi` tokens: at 40 tokens/s, longer than the drain budget. */
function prompt(tag: string, lo = 300, hi = 380): { input: string; reference: string } {
  for (let i = 0; ; i++) {
    const input = `${tag} ${i}: tell me about draining pods`;
    const tokens = plan([{ role: 'user', content: input }]).tokens;
    if (tokens.length >= lo && tokens.length < hi) return { input, reference: tokens.join('') };
  }
}

/**
 * The OpenAI front door across replica failures, driven by the official openai client: two
 * replicas on one PostgreSQL behind a TCP forwarder standing in for the Service. Background
 * responses continue on the other replica by themselves; a client resumes their events with
 * `starting_after`; a non-streamed chat completion survives through the SDK's own retry.
 */
describe('OpenAI clients survive the replica serving them (two replicas, one PostgreSQL)', () => {
  const pair = useFailoverPair('openai-b', { API_KEYS: KEY });
  const env = (replica: string) => pair.env(replica);

  /** A fresh replica A behind a fresh forwarder (no keep-alive connection from an earlier test may lead elsewhere). */
  async function replicaA(name: string): Promise<{ a: ServiceProcess; proxy: Forwarder; client: OpenAI }> {
    const a = await startService(env(name));
    const proxy = forwarder();
    const url = await proxy.listen();
    proxy.point(a.port);
    return { a, proxy, client: new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY }) };
  }

  /** Reads `stream` into `events`; a cut connection (a killed replica) ends it like a clean close. */
  async function read(
    stream: AsyncIterable<ResponseStreamEvent>,
    events: ResponseStreamEvent[],
    onEvent = (_e: ResponseStreamEvent) => {},
  ) {
    try {
      for await (const e of stream) {
        events.push(e);
        onEvent(e);
      }
    } catch {
      // The replica died mid-stream: resume from the last event received.
    }
  }

  /** Resumes with `starting_after` until a terminal event arrives; returns how many resumes it took. */
  async function resume(client: OpenAI, id: string, events: ResponseStreamEvent[]): Promise<number> {
    let resumes = 0;
    while (!TERMINAL.has(events.at(-1)?.type ?? '')) {
      if (++resumes > 30) throw new Error(`no terminal event after ${resumes} resumes`);
      const after = events.at(-1)!.sequence_number;
      try {
        await read(await client.responses.retrieve(id, { stream: true, starting_after: after }), events);
      } catch {
        await sleep(200); // the forwarder's replica is gone and the Service has not noticed: as a client, retry
      }
    }
    return resumes;
  }

  async function backgroundStreamAcross(signal: NodeJS.Signals, tag: string) {
    const { a, proxy, client } = await replicaA(`openai-a-${tag}`);
    const { input, reference } = prompt(tag);
    const events: ResponseStreamEvent[] = [];
    let signalledAt = 0;
    try {
      const stream = await client.responses.create({ model: 'lastcall-dev', input, background: true, stream: true });
      await read(stream, events, (e) => {
        if (e.type === 'response.output_text.delta' && e.sequence_number === 43) {
          proxy.point(pair.b.port);
          signalledAt = performance.now();
          a.kill(signal);
        }
      });
      expect(signalledAt).toBeGreaterThan(0);
      // A drained replica closes the stream after the last event it sent, with no terminal event.
      expect(TERMINAL.has(events.at(-1)!.type)).toBe(false);
      const id = events[0]!.type === 'response.created' ? events[0].response.id : '';
      const resumes = await resume(client, id, events);

      expect(resumes).toBeGreaterThanOrEqual(1);
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
      expect(events.at(-1)!.type).toBe('response.completed');
      const deltas = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : [])).join('');
      expect(deltas).toBe(reference);
      const retrieved = await client.responses.retrieve(id);
      expect(retrieved.status).toBe('completed');
      expect(retrieved.output_text).toBe(deltas);
      return { a, id, signalledAt };
    } finally {
      await proxy.close();
    }
  }

  it('SIGTERM mid-stream: A closes cleanly, the client resumes with starting_after on B, gap-free to response.completed', async () => {
    const { a, signalledAt } = await backgroundStreamAcross('SIGTERM', 'term');
    const exit = await a.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(BUDGET_MS + 500);
  });

  it('SIGKILL mid-stream: the cut client resumes on B, which takes the generation over once the lease expires', async () => {
    const { a } = await backgroundStreamAcross('SIGKILL', 'kill');
    expect((await a.exited).signal).toBe('SIGKILL');
  });

  it('a background response nobody is attached to completes across a restart: B claims it by itself', async () => {
    const { a, proxy, client } = await replicaA('openai-a-alone');
    const { input, reference } = prompt('alone');
    try {
      const stream = await client.responses.create({ model: 'lastcall-dev', input, background: true, stream: true });
      let id = '';
      let deltas = 0;
      for await (const e of stream) {
        if (e.type === 'response.created') id = e.response.id;
        if (e.type === 'response.output_text.delta' && ++deltas === 5) break; // drops the connection
      }
      await sleep(300);
      proxy.point(pair.b.port);
      a.kill('SIGTERM');
      expect((await a.exited).code).toBe(0);
      let r = await client.responses.retrieve(id);
      for (let i = 0; i < 200 && (r.status === 'queued' || r.status === 'in_progress'); i++) {
        await sleep(100);
        r = await client.responses.retrieve(id);
      }
      expect(r.status).toBe('completed');
      expect(r.output_text).toBe(reference);
      // Nobody asked for it on B: its detached-stream worker claimed the lease A released at handoff.
      const takeover = pair.b.logs.find(
        (l) => l.msg === 'took over a stream generation' && l.stream === id.slice('resp_'.length),
      );
      expect(takeover?.via).toBe('handoff');
    } finally {
      await proxy.close();
    }
  });

  it('a streamed chat completion ends with an OpenAI error chunk at handoff and resumes in the same chunks on B', async () => {
    const { a, proxy, client } = await replicaA('openai-a-stream');
    const { input, reference } = prompt('stream');
    try {
      const { data: stream, response } = await client.chat.completions
        .create({ model: 'lastcall-dev', messages: [{ role: 'user', content: input }], stream: true })
        .withResponse();
      const id = response.headers.get('lastcall-stream-id')!;
      let text = '';
      let entries = 0;
      const err = await (async () => {
        for await (const c of stream) {
          const piece = c.choices[0]?.delta.content;
          if (piece) text += piece;
          if (piece && ++entries === 40) {
            proxy.point(pair.b.port);
            a.kill('SIGTERM');
          }
        }
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      // The SDK raises the error chunk: no silently truncated answer.
      expect(err).toBeInstanceOf(OpenAI.APIError);
      const error = (err as InstanceType<typeof OpenAI.APIError>).error as Record<string, unknown>;
      expect(error).toMatchObject({ type: 'server_shutdown', code: 'stream_handed_off', stream_id: id, last_event_id: entries });
      const rest = await client.get<AsyncIterable<ChatCompletionChunk>>(`/streams/${id}`, {
        stream: true,
        headers: { 'Last-Event-ID': String(entries) },
      });
      let finish: string | null | undefined;
      for await (const c of rest) {
        text += c.choices[0]?.delta.content ?? '';
        finish ??= c.choices[0]?.finish_reason;
      }
      expect(text).toBe(reference);
      expect(finish).toBe('stop');
      expect((await a.exited).code).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  it('a non-streamed chat completion whose replica is SIGTERMed mid-generation returns the whole answer through the SDK retry', async () => {
    const { a, proxy, client } = await replicaA('openai-a-chat');
    const { input, reference } = prompt('chat');
    try {
      const pending = client.chat.completions
        .create(
          { model: 'lastcall-dev', messages: [{ role: 'user', content: input }] },
          // The openai client sends no Idempotency-Key of its own; its retries resend this one.
          { headers: { 'Idempotency-Key': randomUUID() } },
        )
        .withResponse();
      await sleep(1_500);
      proxy.point(pair.b.port);
      a.kill('SIGTERM');
      const { data, response } = await pending;
      expect(data.choices[0]!.message.content).toBe(reference);
      expect(data.choices[0]!.finish_reason).toBe('stop');
      expect((await a.exited).code).toBe(0);
      // A answered 503 stream_handed_off; the retry reached B, which joined the stream and continued it.
      const id = response.headers.get('lastcall-stream-id');
      expect(pair.b.logs.some((l) => l.msg === 'took over a stream generation' && l.stream === id)).toBe(true);
      expect(await pair.b.metric('lastcall_stream_resumes_total')).toBeGreaterThanOrEqual(1);
    } finally {
      await proxy.close();
    }
  });
});
