import { Worker } from 'node:worker_threads';
import { ConfigError, unavailable } from '../errors/errors.js';
import type { ModelLocation } from './location.js';
import { disableOnnxRuntimeTelemetry } from './ort-telemetry.js';
import type { EmbeddedBatch, EmbeddingModel } from './model.js';
import type { FromThread, ModelInfo, ThreadData, ToThread } from './thread-protocol.js';

interface Pending {
  resolve(batch: EmbeddedBatch): void;
  reject(err: unknown): void;
}

/**
 * The embedding model on a worker thread of its own, behind the same interface as an in-process
 * one. A batch of 32 takes the thread ~4 ms of tokenising, pooling and normalising: on the event
 * loop that delays every token of every stream and every probe by as much, and the loop cannot
 * answer the previous batch's HTTP response meanwhile. On its own thread, batch n+1 runs while
 * the loop sends batch n's answer. Disposing ends the thread, so its heap goes with the ONNX
 * session.
 *
 * `onFailure` is called once if the thread dies unexpectedly after loading; embeddings then
 * fail with 503 until the process restarts. `threadEntry` is the thread's script (tests give
 * one that crashes on cue).
 */
export async function loadEmbeddingModelOnThread(
  location: ModelLocation,
  opts: {
    onFailure(err: Error): void;
    threadEntry?: URL;
  },
): Promise<EmbeddingModel> {
  disableOnnxRuntimeTelemetry();
  // Compiled next to this file; the service runs from dist/, where both are JavaScript.
  const entry = opts.threadEntry ?? new URL('./model-thread.js', import.meta.url);
  const worker = new Worker(entry, { workerData: { location } satisfies ThreadData });
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let stopped: Error | undefined;
  let disposing: Promise<void> | undefined;
  let detachLoadListeners = () => {};

  const info = await new Promise<ModelInfo>((resolve, reject) => {
    const onMessage = (msg: FromThread) => {
      if (msg.kind === 'ready') resolve(msg.info);
      else if (msg.kind === 'load-failed')
        reject(msg.config ? new ConfigError(msg.message) : new Error(`embedding model failed to load: ${msg.message}`));
    };
    const onExit = (code: number) => reject(new Error(`embedding thread exited with code ${code} while loading`));
    worker.on('message', onMessage).once('error', reject).once('exit', onExit);
    // Not removeAllListeners(): the Worker's own listeners keep its message port running.
    detachLoadListeners = () => worker.off('message', onMessage).off('error', reject).off('exit', onExit);
  }).finally(() => detachLoadListeners());

  const unusable = (cause: Error) =>
    unavailable('model_unavailable', 'the embedding model stopped on this replica; retry on another', 1, { cause });
  const stop = (err: Error) => {
    if (stopped) return;
    stopped = err;
    for (const p of pending.values()) p.reject(disposing ? err : unusable(err));
    pending.clear();
  };
  worker.on('message', (msg: FromThread) => {
    if (msg.kind === 'embedded' || msg.kind === 'embed-failed') {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.kind === 'embed-failed') return p?.reject(new Error(msg.message));
      const { data, tokens } = msg;
      const vectors = tokens.map((_, i) => data.subarray(i * info.dims, (i + 1) * info.dims));
      p?.resolve({ vectors, tokens });
    }
  });
  // A crash emits 'error' and then 'exit': the failure is reported once.
  const fail = (failure: Error) => {
    if (disposing || stopped) return;
    stop(failure);
    opts.onFailure(failure);
  };
  worker.on('error', (err) => fail(new Error(`embedding thread failed: ${err.message}`, { cause: err })));
  worker.on('exit', (code) => {
    if (disposing) return stop(new Error('embedding model disposed'));
    fail(new Error(`embedding thread exited unexpectedly with code ${code}`));
  });

  return {
    ...info,
    // One running on the thread, one waiting there: the thread never waits for the event loop.
    inFlightBatches: 2,
    embed(texts) {
      if (disposing) return Promise.reject(new Error('embedding model disposed'));
      if (stopped) return Promise.reject(unusable(stopped));
      const id = nextId++;
      return new Promise<EmbeddedBatch>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, texts } satisfies ToThread);
      });
    },
    dispose() {
      // Ending the thread releases everything it holds, the ONNX session included (Node-API
      // cleanup at the thread's teardown): ~64 MiB back on the shipped model, the same as
      // releasing the session first, without the extra round trip on the way to exit.
      disposing ??= worker.terminate().then(() => undefined);
      return disposing;
    },
  };
}
