import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/errors/errors.js';
import { MicroBatcher } from '../../../src/embeddings/batcher.js';
import type { EmbeddedBatch } from '../../../src/embeddings/model.js';

/** A fake model: each text becomes a 1-d vector holding its length; calls are recorded. */
function fakeRun() {
  const calls: string[][] = [];
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  const run = async (texts: string[]): Promise<EmbeddedBatch> => {
    calls.push(texts);
    if (gate) await gate;
    return { vectors: texts.map((t) => Float32Array.of(t.length)), tokens: texts.map((t) => t.length + 2) };
  };
  return {
    calls,
    run,
    hold() {
      gate = new Promise((r) => (release = r));
    },
    open() {
      gate = undefined;
      release?.();
    },
  };
}

describe('MicroBatcher', () => {
  it('merges requests that arrive together into one model call, answering each with its own vectors', async () => {
    const f = fakeRun();
    const b = new MicroBatcher({ maxBatch: 8, maxQueued: 64, run: f.run });
    const [x, y] = await Promise.all([b.submit(['a', 'bb']), b.submit(['ccc'])]);
    expect(f.calls).toEqual([['a', 'bb', 'ccc']]);
    expect(x.vectors.map((v) => v[0])).toEqual([1, 2]);
    expect(x.tokens).toEqual([3, 4]);
    expect(y.vectors.map((v) => v[0])).toEqual([3]);
  });

  it('splits a request larger than a batch across calls and keeps its order', async () => {
    const f = fakeRun();
    const b = new MicroBatcher({ maxBatch: 2, maxQueued: 64, run: f.run });
    const out = await b.submit(['a', 'bb', 'ccc', 'dddd', 'eeeee']);
    expect(f.calls.map((c) => c.length)).toEqual([2, 2, 1]);
    expect(out.vectors.map((v) => v[0])).toEqual([1, 2, 3, 4, 5]);
  });

  it('refuses with 429 beyond the queue bound, and accepts again once work is answered', async () => {
    const f = fakeRun();
    f.hold();
    const b = new MicroBatcher({ maxBatch: 4, maxQueued: 4, run: f.run });
    const first = b.submit(['a', 'b', 'c']);
    const refused = await b.submit(['d', 'e']).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(429);
    expect((refused as ApiError).headers['Retry-After']).toBeDefined();
    expect(b.inFlight).toBe(3);
    f.open();
    await first;
    expect(b.inFlight).toBe(0);
    await expect(b.submit(['d', 'e'])).resolves.toBeDefined();
  });

  it('after close refuses new work with 503 but finishes what was queued; whenIdle waits for it', async () => {
    const f = fakeRun();
    f.hold();
    const b = new MicroBatcher({ maxBatch: 4, maxQueued: 16, run: f.run });
    const queued = b.submit(['a']);
    b.close();
    const refused = (await b.submit(['b']).catch((e: unknown) => e)) as ApiError;
    expect(refused.status).toBe(503);
    expect(refused.code).toBe('draining');
    let idle = false;
    const waiting = b.whenIdle(new AbortController().signal).then(() => (idle = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(idle).toBe(false);
    f.open();
    await queued;
    await waiting;
    expect(idle).toBe(true);
  });

  it('rejects every request in a failed batch and keeps serving later ones', async () => {
    let fail = true;
    const b = new MicroBatcher({
      maxBatch: 8,
      maxQueued: 16,
      run: async (texts) => {
        if (fail) throw new Error('boom');
        return { vectors: texts.map(() => Float32Array.of(0)), tokens: texts.map(() => 1) };
      },
    });
    const results = await Promise.allSettled([b.submit(['a']), b.submit(['b'])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(b.inFlight).toBe(0);
    fail = false;
    await expect(b.submit(['c'])).resolves.toBeDefined();
  });

  it('keeps inFlightBatches model calls outstanding, answering each request in its own order', async () => {
    const f = fakeRun();
    f.hold();
    const b = new MicroBatcher({ maxBatch: 2, maxQueued: 16, inFlightBatches: 2, run: f.run });
    const whole = b.submit(['a', 'bb', 'ccc', 'dddd', 'eeeee']);
    await new Promise((r) => setTimeout(r, 20));
    // Two calls sent while neither has answered; the third waits for a free slot.
    expect(f.calls.map((c) => c.length)).toEqual([2, 2]);
    f.open();
    const out = await whole;
    expect(f.calls.map((c) => c.length)).toEqual([2, 2, 1]);
    expect(out.vectors.map((v) => v[0])).toEqual([1, 2, 3, 4, 5]);
    expect(b.inFlight).toBe(0);
  });

  it('sends one call at a time by default', async () => {
    const f = fakeRun();
    f.hold();
    const b = new MicroBatcher({ maxBatch: 2, maxQueued: 16, run: f.run });
    const whole = b.submit(['a', 'bb', 'ccc']);
    await new Promise((r) => setTimeout(r, 20));
    expect(f.calls).toHaveLength(1);
    f.open();
    await whole;
    expect(f.calls).toHaveLength(2);
  });

  it('rejects a configuration where one batch cannot fit in the queue', () => {
    expect(() => new MicroBatcher({ maxBatch: 8, maxQueued: 4, run: fakeRun().run })).toThrow(RangeError);
  });
});
