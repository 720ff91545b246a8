import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../src/errors/errors.js';
import { loadEmbeddingModelOnThread } from '../../../src/embeddings/threaded-model.js';

const threadEntry = new URL('../../fixtures/failing-model-thread.mjs', import.meta.url);

/** A model on a real worker thread that answers one batch and then fails as `mode` says. */
async function load(mode: 'throw' | 'exit' | 'hang') {
  const failures: Error[] = [];
  const model = await loadEmbeddingModelOnThread(
    { dir: '/nowhere', id: mode },
    { onFailure: (err) => failures.push(err), threadEntry },
  );
  return { model, failures };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

function expectModelUnavailable(err: unknown): void {
  expect(err).toBeInstanceOf(ApiError);
  const api = err as ApiError;
  expect(api.status).toBe(503);
  expect(api.code).toBe('model_unavailable');
  expect(api.headers['Retry-After']).toBe('1');
}

describe('embedding model on its own thread', () => {
  it.each(['throw', 'exit'] as const)(
    'a thread that dies (%s) fails its batch and later ones with 503 and reports once',
    async (mode) => {
      const { model, failures } = await load(mode);
      const first = await model.embed(['a', 'b']);
      expect(first.vectors.map((v) => [...v])).toEqual([
        [0.5, 0.5, 0.5, 0.5],
        [0.5, 0.5, 0.5, 0.5],
      ]);
      expect(first.tokens).toEqual([1, 1]);

      expectModelUnavailable(await rejection(model.embed(['c'])));
      expectModelUnavailable(await rejection(model.embed(['d'])));
      // A crash emits 'error' and then 'exit' (which nothing here can await): the service must
      // start one drain, not two.
      await sleep(200);
      expect(failures).toHaveLength(1);
      expect(failures[0]!.message).toMatch(mode === 'throw' ? /simulated crash/ : /exited unexpectedly with code 7/);
      await model.dispose();
      expect(failures).toHaveLength(1);
    },
  );

  it('disposing ends the thread: a batch still on it fails as disposed, not as a failure', async () => {
    const { model, failures } = await load('hang');
    await model.embed(['a']);
    const pending = model.embed(['b']);
    await model.dispose();
    const err = await rejection(pending);
    expect(err).not.toBeInstanceOf(ApiError);
    expect((err as Error).message).toBe('embedding model disposed');
    await expect(model.embed(['c'])).rejects.toThrow('embedding model disposed');
    expect(failures).toEqual([]);
  });
});
