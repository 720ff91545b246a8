import { Counter, Gauge, type Registry } from 'prom-client';
import { METRICS } from '../metrics/names.js';
import { zeroSeries } from '../metrics/registry.js';

export function createEmbeddingMetrics(registry: Registry) {
  const metrics = {
    modelLoaded: new Gauge({
      name: METRICS.embeddingModelLoaded,
      help: '1 while the embedding model is loaded; 0 once it is disposed at shutdown',
      registers: [registry],
    }),
    modelBytes: new Gauge({
      name: METRICS.embeddingModelBytes,
      help: 'Size of the ONNX weights the embedding model loaded',
      registers: [registry],
    }),
    memoryReturned: new Gauge({
      name: METRICS.embeddingMemoryReturnedBytes,
      help: 'Resident memory (RSS) the process gave back as the embedding model was disposed at shutdown',
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: METRICS.embeddingsInFlight,
      help: 'Texts accepted for embedding and not yet answered (queued or in a running batch)',
      registers: [registry],
    }),
    inputs: new Counter({
      name: METRICS.embeddingInputsTotal,
      help: 'Texts embedded, by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
  zeroSeries(metrics.inputs, 'outcome', ['ok', 'failed']);
  return metrics;
}
export type EmbeddingMetrics = ReturnType<typeof createEmbeddingMetrics>;
