import type { Logger } from '../log/logger.js';
import type { EmbeddingMetrics } from './metrics.js';
import { inSpan } from '../tracing/spans.js';
import { MicroBatcher } from './batcher.js';
import { checkTexts, INPUT_FIELD, type TextField } from './limits.js';
import { memoryReturned, memorySnapshot } from './memory.js';
import type { EmbeddedBatch, EmbeddingModel } from './model.js';

/** Texts per model call; a batch is padded to its longest text, so bigger batches waste more. */
export const MAX_BATCH = 32;
/** Texts accepted and waiting at once (bounds queued memory: at most this × MAX_TEXT_CHARS). */
export const MAX_QUEUED = 1024;

/** The in-process embedding API other features (vectors, tasks) depend on. */
export interface Embeddings {
  readonly model: string;
  readonly dims: number;
  /** Unit vectors for `texts`; 400 for bad texts, 429 when the queue is full, 503 once draining. */
  embed(texts: readonly string[], field?: TextField): Promise<EmbeddedBatch>;
}

/** What the feature's shutdown participants use. */
export interface EmbeddingService extends Embeddings {
  /** Texts accepted and not yet answered. */
  readonly inFlight: number;
  whenIdle(signal: AbortSignal): Promise<void>;
  /** Refuses new work (503) from now on. */
  close(): void;
  /** Disposes the model and reports the memory the process gave back. */
  dispose(): Promise<Record<string, unknown>>;
}

/** Serves one loaded model through a micro-batcher. */
export function createEmbeddingService(opts: {
  model: EmbeddingModel;
  metrics: EmbeddingMetrics;
  logger: Logger;
}): EmbeddingService {
  const { model, metrics, logger } = opts;
  const batcher = new MicroBatcher({
    maxBatch: MAX_BATCH,
    maxQueued: MAX_QUEUED,
    inFlightBatches: model.inFlightBatches,
    run: (texts) =>
      inSpan('embeddings.batch', { attributes: { 'lastcall.embeddings.texts': texts.length } }, () => model.embed(texts)),
  });
  metrics.modelLoaded.set(1);
  metrics.modelBytes.set(model.weightBytes);
  logger.info(
    { model: model.id, dir: model.dir, dims: model.dims, weightBytes: model.weightBytes, loadMs: Math.round(model.loadMs) },
    'embedding model loaded',
  );

  const embed = async (texts: readonly string[], field: TextField = INPUT_FIELD): Promise<EmbeddedBatch> => {
    checkTexts(texts, field);
    const work = batcher.submit(texts);
    metrics.inFlight.set(batcher.inFlight);
    try {
      const out = await work;
      metrics.inputs.inc({ outcome: 'ok' }, texts.length);
      return out;
    } catch (err) {
      metrics.inputs.inc({ outcome: 'failed' }, texts.length);
      throw err;
    } finally {
      metrics.inFlight.set(batcher.inFlight);
    }
  };

  return {
    model: model.id,
    dims: model.dims,
    embed,
    get inFlight() {
      return batcher.inFlight;
    },
    whenIdle: (signal) => batcher.whenIdle(signal),
    close: () => batcher.close(),
    async dispose() {
      // No forced collection first: a full GC here costs ~35 ms of every exit.
      const before = memorySnapshot();
      await model.dispose();
      metrics.modelLoaded.set(0);
      // Disposing ends the model's thread: its heap and the ONNX session are freed by the
      // time it resolves, so no collection or finalizer wait is needed to measure them.
      const after = memorySnapshot();
      const returned = memoryReturned(before, after);
      metrics.memoryReturned.set(Math.max(0, returned.rss));
      const detail = { modelBytes: model.weightBytes, before, after, returned };
      logger.info(detail, 'embedding model disposed');
      return detail;
    },
  };
}
