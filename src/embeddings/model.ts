import fs from 'node:fs';
import { env, LogLevel, pipeline, type FeatureExtractionPipeline, type ProgressInfo } from '@huggingface/transformers';
import { ConfigError } from '../errors/errors.js';
import type { ModelLocation } from './location.js';
import { disableOnnxRuntimeTelemetry } from './ort-telemetry.js';

/** A loaded sentence-embedding model: texts in, unit vectors out. */
export interface EmbeddingModel {
  /** Name answered in `model` fields: the shipped package's id, or the folder's name. */
  readonly id: string;
  readonly dir: string;
  readonly dims: number;
  /** Size of the ONNX weight files the session was created from. */
  readonly weightBytes: number;
  readonly loadMs: number;
  /** Calls worth having outstanding at once: 1 when `embed` runs on the caller's thread. */
  readonly inFlightBatches: number;
  /** One pipeline call: unit-length vectors and how many tokens each text became. */
  embed(texts: readonly string[]): Promise<EmbeddedBatch>;
  /** Releases the ONNX session; `embed` fails afterwards. Idempotent. */
  dispose(): Promise<void>;
}

export interface EmbeddedBatch {
  readonly vectors: Float32Array[];
  readonly tokens: number[];
}

type SessionOptions = NonNullable<NonNullable<Parameters<typeof pipeline>[2]>['session_options']>;

/**
 * ONNX Runtime's defaults suit a machine of its own, not a pod sharing a few cores:
 * - its CPU arena keeps the peak activation memory for good; off, a batch's memory is freed
 *   with it (so disposing returns it too);
 * - its intra-op threads busy-wait between ops, taking the cores the event loop needs (and a
 *   pod's CPU quota); without spinning, batch-32 throughput went from ~3,000 to ~7,400
 *   embeddings/s on 2 cores (bench/embeddings-throughput.ts), and parallel ops are kept for
 *   larger models.
 */
export const SESSION_OPTIONS: SessionOptions = {
  enableCpuMemArena: false,
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
};

/**
 * Loads a transformers.js model folder offline (never from a hub). A missing or unusable folder
 * is a ConfigError with a one-line message, so the process exits 1 at start-up.
 */
export async function loadEmbeddingModel(
  location: ModelLocation,
  sessionOptions: SessionOptions = SESSION_OPTIONS,
): Promise<EmbeddingModel> {
  const { dir, id } = location;
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new ConfigError(`embedding model folder ${dir} does not exist (EMBEDDING_MODEL_DIR)`);
  }
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  // Takes effect when loading on the main thread (the benchmark's raw pipeline); the service's
  // model thread relies on the call made before the thread starts.
  disableOnnxRuntimeTelemetry();
  env.logLevel = LogLevel.ERROR;

  const started = performance.now();
  const weights = new Map<string, number>();
  const onProgress = (e: ProgressInfo) => {
    if (e.status !== 'progress_total') return;
    for (const [file, { total }] of Object.entries(e.files)) if (/\.onnx(_data(_\d+)?)?$/.test(file)) weights.set(file, total);
  };
  let pipe: FeatureExtractionPipeline | undefined;
  let tokensPerRow: number[] = [];
  let dims: number;
  try {
    // An absolute folder path is accepted as the model name; local_files_only keeps it offline.
    pipe = await pipeline('feature-extraction', dir, {
      local_files_only: true,
      session_options: sessionOptions,
      progress_callback: onProgress,
    });
    // The pipeline tokenizes internally; counting tokens there (rather than tokenizing twice,
    // ~13 % of a batch's time) gives exact usage figures for free.
    pipe.tokenizer = new Proxy(pipe.tokenizer, {
      apply(target, thisArg, args: unknown[]) {
        const out = Reflect.apply(target, thisArg, args) as {
          attention_mask: { dims: number[]; data: ArrayLike<bigint | number> };
        };
        tokensPerRow = countRows(out.attention_mask);
        return out;
      },
    });
    // A probe both proves the weights run and tells the dimension for the vector index.
    dims = (await pipe(['probe'], { pooling: 'mean', normalize: true })).dims.at(-1) ?? 0;
    if (!(dims > 0)) throw new Error('the model produced no embedding dimension');
  } catch (err) {
    await pipe?.dispose().catch(() => undefined);
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw new ConfigError(`embedding model in ${dir} could not be loaded: ${reason}`, { cause: err });
  }
  const loadMs = performance.now() - started;
  const weightBytes = [...weights.values()].reduce((a, b) => a + b, 0);

  return {
    id,
    dir,
    dims,
    weightBytes,
    loadMs,
    inFlightBatches: 1,
    async embed(texts) {
      if (!pipe) throw new Error('embedding model disposed');
      const pending = pipe([...texts], { pooling: 'mean', normalize: true });
      // The pipeline tokenizes synchronously before its first await, so this is this call's count.
      const tokens = tokensPerRow;
      const data = (await pending).data as Float32Array;
      // A text whose tokens all have zero vectors normalises to 0/0; answer a zero vector
      // instead of NaN, which JSON cannot carry.
      for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) data[i] = 0;
      // Views, not copies: the model thread copies the batch once into the buffer it transfers.
      const vectors = texts.map((_, i) => data.subarray(i * dims, (i + 1) * dims));
      return { vectors, tokens };
    },
    async dispose() {
      const p = pipe;
      pipe = undefined;
      await p?.dispose();
    },
  };
}

function countRows(mask: { dims: number[]; data: ArrayLike<bigint | number> }): number[] {
  const [rows = 0, cols = 0] = mask.dims;
  const counts = new Array<number>(rows).fill(0);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) counts[r]! += Number(mask.data[r * cols + c]);
  return counts;
}
