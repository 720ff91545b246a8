import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL, startHarness, type Harness } from './harness.js';

const idOf = (events: ResponseStreamEvent[]) => (events[0]?.type === 'response.created' ? events[0].response.id : '');
const deltasOf = (events: ResponseStreamEvent[]) =>
  events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : []));

describe('emulator: Responses API through the official openai client', () => {
  let h: Harness;
  beforeAll(async () => {
    // Slow enough that a background response is still running when the client comes back.
    h = await startHarness({ tokensPerSecond: 200, minTokens: 40, maxTokens: 60 });
  });
  afterAll(() => h.close());

  // Starts a response slow enough that it is surely still running when the test looks at it mid-way,
  // even on a loaded machine (a generation keeps the rate it started with).
  const slowly = async <T>(start: () => Promise<T>): Promise<T> => {
    await h.control.config({ tokensPerSecond: 20, minTokens: 16, maxTokens: 20 });
    try {
      return await start();
    } finally {
      await h.control.config({ tokensPerSecond: 200, minTokens: 40, maxTokens: 60 });
    }
  };

  it('keeps a background response generating after the client aborts, and resumes it with starting_after', async () => {
    const stream = await slowly(() =>
      h.client.responses.create({ model: MODEL, input: 'Tell me a story', background: true, stream: true }),
    );
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) {
      events.push(event);
      if (deltasOf(events).length === 3) break; // the SDK aborts the request
    }
    const id = idOf(events);
    expect(id).toMatch(/^resp_/);
    const midway = await h.client.responses.retrieve(id);
    expect(midway.status).toBe('in_progress');

    const cursor = events.at(-1)!.sequence_number;
    const resumed = await h.client.responses.retrieve(id, { stream: true, starting_after: cursor });
    for await (const event of resumed) events.push(event);

    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.at(-1)!.type).toBe('response.completed');
    const final = await h.client.responses.retrieve(id);
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe(deltasOf(events).join(''));
    expect(final.usage!.output_tokens).toBe(deltasOf(events).length);
  });

  it('generates in the background with nobody connected: create returns queued, retrieve shows progress', async () => {
    const created = await slowly(() => h.client.responses.create({ model: MODEL, input: 'Quietly', background: true }));
    expect(created).toMatchObject({ object: 'response', status: 'queued', background: true, output: [] });
    let partial = await h.client.responses.retrieve(created.id);
    while (partial.output_text === '') partial = await h.client.responses.retrieve(created.id);
    expect(partial.status).toBe('in_progress');
    expect(partial.output_text.length).toBeGreaterThan(0);
    let done = partial;
    while (done.status === 'in_progress') done = await h.client.responses.retrieve(created.id);
    expect(done.status).toBe('completed');
    expect(done.output_text.startsWith(partial.output_text)).toBe(true);
    const [gen] = (await h.control.generations()).filter((g) => g.upstreamId === created.id);
    expect(gen).toMatchObject({ endpoint: 'responses', mode: 'new', text: done.output_text, status: 'finished' });
  });

  it('cancels a background response: status cancelled, the streams end, cancelling again is a no-op', async () => {
    const stream = await h.client.responses.create({ model: MODEL, input: 'Stop me', background: true, stream: true });
    const events: ResponseStreamEvent[] = [];
    let cancelled: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      events.push(event);
      if (!cancelled && deltasOf(events).length === 3) cancelled = await h.client.responses.cancel(idOf(events));
    }
    expect(cancelled!.status).toBe('cancelled');
    expect(events.some((e) => e.type === 'response.completed')).toBe(false);
    const replay = [];
    for await (const event of await h.client.responses.retrieve(cancelled!.id, { stream: true, starting_after: 0 })) {
      replay.push(event);
    }
    expect(replay.map((e) => e.sequence_number)).toEqual(events.slice(1).map((e) => e.sequence_number));
    expect((await h.client.responses.cancel(cancelled!.id)).status).toBe('cancelled');
    expect((await h.client.responses.retrieve(cancelled!.id)).status).toBe('cancelled');
    expect((await h.control.generations()).find((g) => g.upstreamId === cancelled!.id)!.status).toBe('cancelled');
  });

  it('answers unknown, deleted and forgotten ids with NotFoundError', async () => {
    await expect(h.client.responses.retrieve('resp_unknown')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(h.client.responses.cancel('resp_unknown')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const resume = h.client.responses.retrieve('resp_unknown', { stream: true, starting_after: 3 });
    await expect(resume).rejects.toBeInstanceOf(OpenAI.NotFoundError);

    const a = await h.client.responses.create({ model: MODEL, input: 'a', background: true });
    await h.client.responses.delete(a.id);
    await expect(h.client.responses.retrieve(a.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);

    const b = await h.client.responses.create({ model: MODEL, input: 'b', background: true });
    await h.control.forget(b.id);
    await expect(h.client.responses.retrieve(b.id, { stream: true, starting_after: 0 })).rejects.toMatchObject({
      status: 404,
      message: expect.stringContaining(`Response with id '${b.id}' not found.`),
    });
  });

  it('refuses background without store, and resuming a response not created for it', async () => {
    await expect(h.client.responses.create({ model: MODEL, input: 'x', background: true, store: false })).rejects.toMatchObject({
      constructor: OpenAI.BadRequestError,
      param: 'store',
    });
    const polled = await h.client.responses.create({ model: MODEL, input: 'x', background: true });
    await expect(h.client.responses.retrieve(polled.id, { stream: true })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('streams a normal response live, stores it when done, and drops it when the client leaves early', async () => {
    const done = await h.client.responses.stream({ model: MODEL, input: 'Hello' }).finalResponse();
    expect(done.status).toBe('completed');
    expect((await h.client.responses.retrieve(done.id)).output_text).toBe(done.output_text);

    const stream = await h.client.responses.create({ model: MODEL, input: 'Leave early', stream: true });
    let id = '';
    for await (const event of stream) {
      if (event.type === 'response.created') id = event.response.id;
      if (event.type === 'response.output_text.delta') break;
    }
    await new Promise((r) => setTimeout(r, 50));
    expect((await h.control.generations()).find((g) => g.upstreamId === id)!.status).toBe('aborted');
    await expect(h.client.responses.retrieve(id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('ends incomplete when max_output_tokens cuts the answer', async () => {
    const r = await h.client.responses.create({ model: MODEL, input: 'Long', max_output_tokens: 16 });
    expect(r).toMatchObject({
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
      usage: { output_tokens: 16 },
    });
    expect(r.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'incomplete' });
  });

  it('keeps at most maxStoredResponses, dropping the oldest finished one', async () => {
    await h.control.config({ maxStoredResponses: 2 });
    try {
      const ids = [];
      for (const input of ['one', 'two', 'three']) {
        ids.push((await h.client.responses.create({ model: MODEL, input, max_output_tokens: 16 })).id);
      }
      await expect(h.client.responses.retrieve(ids[0]!)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
      expect((await h.client.responses.retrieve(ids[2]!)).id).toBe(ids[2]);
    } finally {
      await h.control.config({ maxStoredResponses: 1000 });
    }
  });

  it('forgets finished responses after their time-to-live', async () => {
    await h.control.config({ responseTtlSeconds: 0.05 });
    try {
      const r = await h.client.responses.create({ model: MODEL, input: 'Brief', max_output_tokens: 16 });
      expect((await h.client.responses.retrieve(r.id)).id).toBe(r.id);
      await new Promise((res) => setTimeout(res, 80));
      await expect(h.client.responses.retrieve(r.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    } finally {
      await h.control.config({ responseTtlSeconds: 600 });
    }
  });
});
