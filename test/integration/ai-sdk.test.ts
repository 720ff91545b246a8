import { randomUUID } from 'node:crypto';
import { DefaultChatTransport, readUIMessageStream, type UIMessage, type UIMessageChunk } from 'ai';
import { describe, expect, it } from 'vitest';
import { plan } from '../../src/upstream/text.js';
import { aiSdkChat, aiSdkTransport, answerOf } from '../../testkit/ai-sdk-chat.js';
import { forwarder } from '../../testkit/forwarder.js';
import { useFailoverPair } from '../../testkit/failover-pair.js';
import { startService, type ServiceProcess } from '../../testkit/service.js';

const MAX_TOKENS = 400; // 10 s at 40 tokens/s: longer than the 5 s shutdown budget
const ALICE = 'alice-key-0123456789abcdefghij';
const BOB = 'bob-key-0123456789abcdefghijkl';

/** The first prompt whose natural answer is at least MAX_TOKENS long, and that answer. */
function longPrompt(tag: string) {
  for (let i = 0; ; i++) {
    const prompt = `${tag} ${i}: tell me about draining pods`;
    const tokens = plan([{ role: 'user', content: prompt }], MAX_TOKENS).tokens;
    if (tokens.length >= MAX_TOKENS) return { prompt, reference: tokens.join('') };
  }
}

/** The stream's whole answer as `GET /v1/streams/:id` renders it (in the stream's own format), read with the transport too. */
async function streamText(baseUrl: string, streamId: string, apiKey = ALICE): Promise<string> {
  const transport = new DefaultChatTransport({
    prepareReconnectToStreamRequest: () => ({
      api: `${baseUrl}/v1/streams/${streamId}`,
      headers: { Authorization: `Bearer ${apiKey}` },
    }),
  });
  const stream = await transport.reconnectToStream({ chatId: 'unused' });
  let last: UIMessage | undefined;
  for await (const m of readUIMessageStream({ stream: stream! })) last = m;
  return answerOf(last);
}

async function get(url: string, apiKey = ALICE) {
  const res = await fetch(url, { headers: { Authorization: `Bearer ${apiKey}` } });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

async function post(url: string, body: unknown, apiKey = ALICE, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return res;
}

const chatBody = (id: string, text: string, maxTokens = MAX_TOKENS) => ({
  id,
  messages: [{ id: randomUUID(), role: 'user', parts: [{ type: 'text', text }] }],
  trigger: 'submit-message',
  max_tokens: maxTokens,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the AI SDK front door, with the ai package, on two replicas and one PostgreSQL', () => {
  const pair = useFailoverPair('replica-b', { API_KEYS: `alice:${ALICE},bob:${BOB}` });
  const env = (replica: string) => pair.env(replica);

  /** A chat through a fresh forwarder at `a`; after 40 text deltas it points at B and signals `a`. */
  async function chatAcross(a: ServiceProcess, signal: NodeJS.Signals, tag: string) {
    const { prompt, reference } = longPrompt(tag);
    const proxy = forwarder();
    const url = await proxy.listen();
    proxy.point(a.port);
    let deltas = 0;
    const perConnection: Record<number, string[]> = {};
    const onChunk = (c: UIMessageChunk, connection: number) => {
      (perConnection[connection] ??= []).push(c.type);
      if (c.type === 'text-delta' && connection === 0 && ++deltas === 40) {
        proxy.point(pair.b.port);
        a.kill(signal);
      }
    };
    const result = await aiSdkChat(url, prompt, { apiKey: ALICE, body: { max_tokens: MAX_TOKENS }, onChunk }).finally(() =>
      proxy.close(),
    );
    expect(result.ended).toBe('finish');
    expect(result.errorText).toBeUndefined();
    expect(result.finishReason).toBe('length');
    expect(result.text).toBe(reference);
    expect(result.reconnects).toBeGreaterThanOrEqual(1);
    // The POST's answer stopped without `finish`; the last connection replayed the stream from its start.
    expect(perConnection[0]).not.toContain('finish');
    const last = perConnection[result.reconnects]!;
    expect(last.slice(0, 3)).toEqual(['start', 'start-step', 'text-start']);
    expect(last.at(-1)).toBe('finish');
    expect(new Set(Object.values(perConnection).flat())).toEqual(
      new Set(['start', 'start-step', 'text-start', 'text-delta', 'text-end', 'finish-step', 'finish']),
    );
    // The stored answer is the same, read from the stream's own URL.
    expect(await streamText(pair.b.url, result.streamId!)).toBe(reference);
    return result;
  }

  it('SIGTERM mid-answer: the POST ends without finish, reconnectToStream on the other replica gets the whole answer', async () => {
    const a = await startService(env('replica-a'));
    const result = await chatAcross(a, 'SIGTERM', 'term');
    expect((await a.exited).code).toBe(0);
    expect(result.endings[0]).toBe('ended without finish');
    expect(pair.b.logs.some((l) => l.msg === 'took over a stream generation')).toBe(true);
    expect(a.logs.some((l) => l.msg === 'shutdown phase ended' && l.phase === 'handoff')).toBe(true);
  });

  it('SIGKILL mid-answer: the cut client reconnects to the other replica, which takes the stream over once the lease expires', async () => {
    const a = await startService(env('replica-a2'));
    const result = await chatAcross(a, 'SIGKILL', 'kill');
    expect((await a.exited).signal).toBe('SIGKILL');
    expect(result.endings[0]).toMatch(/^cut: /);
  });

  it("answers 204 for a chat with nothing active, and the same for another key's chat; chats are scoped to the key", async () => {
    const stream = (chat: string) => `${pair.b.url}/v1/ai-sdk/chat/${chat}/stream`;
    expect((await get(stream('never-started'))).status).toBe(204);
    const chatId = `scoped-${randomUUID()}`;
    const result = await aiSdkChat(pair.b.url, 'a short question', { apiKey: ALICE, chatId, body: { max_tokens: 8 } });
    expect(result.text).toBe(plan([{ role: 'user', content: 'a short question' }], 8).tokens.join(''));
    // Still Alice's active stream for the replay window: she gets it again, from the start.
    const again = await get(stream(chatId));
    expect(again.status).toBe(200);
    expect(again.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    expect(again.body).toContain('"type":"finish"');
    // Bob, with the same chat id, has no such chat, cannot stop it and cannot read its stream.
    expect((await get(stream(chatId), BOB)).status).toBe(204);
    const stop = await post(`${pair.b.url}/v1/ai-sdk/chat/${chatId}/stop`, {}, BOB);
    expect(await stop.json()).toEqual({ success: true, stopped: false });
    expect((await get(`${pair.b.url}/v1/streams/${result.streamId}`, BOB)).status).toBe(404);
    expect((await get(stream(chatId))).status).toBe(200);
    // Bob's own chat under the same id is his alone.
    const bobs = await aiSdkChat(pair.b.url, 'bob asks', { apiKey: BOB, chatId, body: { max_tokens: 5 } });
    expect(bobs.streamId).not.toBe(result.streamId);
    expect((await get(stream(chatId))).body).toContain(`msg_${result.streamId}`);
  });

  it('replays from ?startIndex=N: exactly the chunks after the first N', async () => {
    const chatId = `index-${randomUUID()}`;
    await aiSdkChat(pair.b.url, 'count the chunks', { apiKey: ALICE, chatId, body: { max_tokens: 10 } });
    const all = (await get(`${pair.b.url}/v1/ai-sdk/chat/${chatId}/stream`)).body.split('\n\n').filter(Boolean);
    expect(all.at(-1)).toBe('data: [DONE]');
    const from5 = (await get(`${pair.b.url}/v1/ai-sdk/chat/${chatId}/stream?startIndex=5`)).body.split('\n\n').filter(Boolean);
    expect(from5).toEqual(all.slice(5));
  });

  it('stop cancels the generation (its tokens stop), keeps the partial answer and clears the active stream', async () => {
    const chatId = `stop-${randomUUID()}`;
    const { prompt, reference } = longPrompt('stop');
    const transport = aiSdkTransport(pair.b.url, { apiKey: ALICE, body: { max_tokens: MAX_TOKENS } });
    const user: UIMessage = { id: 'u1', role: 'user', parts: [{ type: 'text', text: prompt }] };
    const stream = await transport.sendMessages({
      chatId,
      messages: [user],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: undefined,
    });
    const types: string[] = [];
    let stopped: Promise<Response> | undefined;
    const tapped = stream.pipeThrough(
      new TransformStream<UIMessageChunk, UIMessageChunk>({
        transform(c, controller) {
          types.push(c.type);
          if (c.type === 'start') expect(c.messageId).toMatch(/^msg_/);
          if (types.filter((t) => t === 'text-delta').length === 30 && !stopped) {
            stopped = post(`${pair.b.url}/v1/ai-sdk/chat/${chatId}/stop`, { activeStreamId: null });
          }
          controller.enqueue(c);
        },
      }),
    );
    let message: UIMessage | undefined;
    for await (const m of readUIMessageStream({ stream: tapped })) message = m;
    const answer = (await (await stopped!).json()) as { success: boolean; stopped: boolean; stream_id: string; status: string };
    expect(answer).toMatchObject({ success: true, stopped: true, status: 'cancelled' });
    // The open response ends as the AI SDK's own server ends a stopped generation, then finishes.
    expect(types.slice(-3)).toEqual(['finish-step', 'abort', 'finish']);
    const partial = answerOf(message);
    expect(partial.length).toBeGreaterThan(0);
    expect(reference.startsWith(partial)).toBe(true);
    expect(partial.length).toBeLessThan(reference.length);
    // Kept: the stream's log holds exactly what the client got.
    expect(await streamText(pair.b.url, answer.stream_id)).toBe(partial);
    // Ended upstream: no token is generated after the stop.
    const tokens = await pair.b.metric('lastcall_stream_tokens_total');
    await sleep(1_000);
    expect(await pair.b.metric('lastcall_stream_tokens_total')).toBe(tokens);
    // Cleared: nothing to resume, and a second stop has nothing to do.
    expect((await get(`${pair.b.url}/v1/ai-sdk/chat/${chatId}/stream`)).status).toBe(204);
    expect(await (await post(`${pair.b.url}/v1/ai-sdk/chat/${chatId}/stop`, {})).json()).toEqual({
      success: true,
      stopped: false,
    });
  });

  it('a client abort is a disconnect, not a cancel: the answer is generated on and resumable', async () => {
    const chatId = `abort-${randomUUID()}`;
    const { prompt } = longPrompt('abort');
    const reference = plan([{ role: 'user', content: prompt }], 120).tokens.join('');
    const transport = aiSdkTransport(pair.b.url, { apiKey: ALICE, body: { max_tokens: 120 } });
    const abort = new AbortController();
    const user: UIMessage = { id: 'u1', role: 'user', parts: [{ type: 'text', text: prompt }] };
    const stream = await transport.sendMessages({
      chatId,
      messages: [user],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: abort.signal,
    });
    const reader = stream.getReader();
    for (let deltas = 0; deltas < 10;) if ((await reader.read()).value?.type === 'text-delta') deltas++;
    abort.abort();
    await reader.cancel().catch(() => undefined);
    const resumed = await transport.reconnectToStream({ chatId });
    let message: UIMessage | undefined;
    for await (const m of readUIMessageStream({ stream: resumed! })) message = m;
    expect(answerOf(message)).toBe(reference);
  });

  it('a new POST for the chat supersedes the answer still generating; the same Idempotency-Key joins instead of starting another', async () => {
    const chatId = `supersede-${randomUUID()}`;
    const first = await post(`${pair.b.url}/v1/ai-sdk/chat`, chatBody(chatId, 'first question'));
    const firstId = first.headers.get('lastcall-stream-id')!;
    await sleep(300);
    const body = chatBody(chatId, 'second question');
    const one = await post(`${pair.b.url}/v1/ai-sdk/chat`, body, ALICE, { 'Idempotency-Key': `k-${chatId}` });
    const two = await post(`${pair.b.url}/v1/ai-sdk/chat`, body, ALICE, { 'Idempotency-Key': `k-${chatId}` });
    const oneId = one.headers.get('lastcall-stream-id')!;
    expect(two.headers.get('lastcall-stream-id')).toBe(oneId);
    // The same key for a different request is a conflict, not a second stream.
    const other = await post(`${pair.b.url}/v1/ai-sdk/chat`, chatBody(chatId, 'third'), ALICE, {
      'Idempotency-Key': `k-${chatId}`,
    });
    expect(other.status).toBe(409);
    await Promise.all([first.body?.cancel(), one.body?.cancel(), two.body?.cancel(), other.body?.cancel()]);
    // `one` superseded `first`: cancelled, with its partial answer kept.
    const firstText = (await get(`${pair.b.url}/v1/streams/${firstId}`)).body;
    expect(firstText).toContain('{"type":"abort","reason":"cancelled"}');
    expect(firstText).toContain('"type":"text-delta"');
    // The chat's active stream is `one`'s, still generating although its clients left: a stop names it.
    expect(
      await (await post(`${pair.b.url}/v1/ai-sdk/chat/${chatId}/stop`, { activeStreamId: `msg_${oneId}` })).json(),
    ).toMatchObject({
      stopped: true,
      stream_id: oneId,
    });
  });

  it("bad input is a 400 in the API's JSON shape naming the field", async () => {
    const cases: [string, () => Promise<{ status: number; body: string }>, RegExp][] = [
      [
        'file part',
        async () => {
          const body = chatBody('c1', 'x');
          body.messages[0]!.parts = [{ type: 'file', url: 'data:,', mediaType: 'text/plain' } as never];
          const r = await post(`${pair.b.url}/v1/ai-sdk/chat`, body);
          return { status: r.status, body: await r.text() };
        },
        /messages\.0\.parts\.0\.type: file parts/,
      ],
      [
        'no chat id',
        async () => {
          const r = await post(`${pair.b.url}/v1/ai-sdk/chat`, { messages: chatBody('c', 'x').messages });
          return { status: r.status, body: await r.text() };
        },
        /^id: /,
      ],
      ['startIndex', () => get(`${pair.b.url}/v1/ai-sdk/chat/c1/stream?startIndex=-1`), /startIndex must be/],
      ['chat id in the path', () => get(`${pair.b.url}/v1/ai-sdk/chat/${encodeURIComponent('a b')}/stream`), /chatId: /],
      [
        'stop body',
        async () => {
          const r = await post(`${pair.b.url}/v1/ai-sdk/chat/c1/stop`, { activeStreamId: 'nope' });
          return { status: r.status, body: await r.text() };
        },
        /activeStreamId: /,
      ],
    ];
    for (const [what, call, message] of cases) {
      const r = await call();
      expect([what, r.status]).toEqual([what, 400]);
      expect(JSON.parse(r.body).error.message).toMatch(message);
    }
    expect((await fetch(`${pair.b.url}/v1/ai-sdk/chat/c1/stream`)).status).toBe(401);
  });

  it('counts its streams under their front door', async () => {
    const started = await pair.b.metric('lastcall_streams_started_total{front_door="ai_sdk"');
    expect(started).toBeGreaterThan(0);
  });
});
