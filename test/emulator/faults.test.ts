import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MODEL, startHarness, type Harness } from './harness.js';

const ask = [{ role: 'user' as const, content: 'Hello' }];
const OFF = { breakEveryNthStream: 0, stallEveryNthStream: 0, failNextRequests: 0 };

describe('emulator: injected faults', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());
  afterEach(() => h.control.faults(OFF));

  it('destroys every Nth stream after N tokens', async () => {
    await h.control.faults({ breakEveryNthStream: 2, breakAfterTokens: 3 });
    const collect = async () => {
      const deltas: string[] = [];
      try {
        const stream = await h.client.chat.completions.create({ model: MODEL, messages: ask, stream: true });
        for await (const chunk of stream) if (chunk.choices[0]?.delta.content) deltas.push(chunk.choices[0].delta.content);
        return { deltas, error: null };
      } catch (error) {
        return { deltas, error };
      }
    };
    expect((await collect()).error).toBeNull();
    const broken = await collect();
    expect(broken.deltas).toHaveLength(3);
    expect(broken.error).toBeInstanceOf(Error);
    const gen = (await h.control.generations()).at(-1)!;
    expect(gen).toMatchObject({ status: 'broken', text: broken.deltas.join(''), finishReason: null });
  });

  it('stalls a stream: no bytes for the configured time mid-stream', async () => {
    await h.control.faults({ stallEveryNthStream: 1, stallAfterTokens: 2, stallSeconds: 0.5 });
    const stream = await h.client.chat.completions.create({ model: MODEL, messages: ask, stream: true, max_tokens: 4 });
    const at: number[] = [];
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content) at.push(performance.now());
    expect(at).toHaveLength(4);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(400);
    expect(at[1]! - at[0]!).toBeLessThan(250);
  });

  it('fails the next K requests with 429 and Retry-After, then recovers', async () => {
    await h.control.faults({ failNextRequests: 2, failStatus: 429, retryAfterSeconds: 7 });
    for (let i = 0; i < 2; i++) {
      const err = await h.client.chat.completions.create({ model: MODEL, messages: ask }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('7');
    }
    expect((await h.client.chat.completions.create({ model: MODEL, messages: ask })).choices).toHaveLength(1);
    await h.control.faults({ failNextRequests: 1, failStatus: 500 });
    await expect(h.client.models.list()).rejects.toBeInstanceOf(OpenAI.InternalServerError);
  });

  it('breaks a background Responses stream without stopping its generation', async () => {
    await h.control.config({ tokensPerSecond: 400 });
    await h.control.faults({ breakEveryNthStream: 1, breakAfterTokens: 4 });
    try {
      const events: ResponseStreamEvent[] = [];
      const stream = await h.client.responses.create({ model: MODEL, input: 'Keep going', background: true, stream: true });
      await expect(
        (async () => {
          for await (const event of stream) events.push(event);
        })(),
      ).rejects.toThrow();
      const id = events[0]?.type === 'response.created' ? events[0].response.id : '';
      expect(events.filter((e) => e.type === 'response.output_text.delta')).toHaveLength(4);
      await h.control.faults(OFF);
      const resumed = await h.client.responses.retrieve(id, { stream: true, starting_after: events.at(-1)!.sequence_number });
      for await (const event of resumed) events.push(event);
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
      expect(events.at(-1)!.type).toBe('response.completed');
    } finally {
      await h.control.config({ tokensPerSecond: 2000 });
    }
  });
});
