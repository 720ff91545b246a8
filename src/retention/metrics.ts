import { Counter, Gauge, type Registry } from 'prom-client';
import { METRICS } from '../metrics/names.js';
import { zeroSeries } from '../metrics/registry.js';
import { SWEPT_KINDS } from './sweeper.js';

export function createRetentionMetrics(registry: Registry) {
  const metrics = {
    deleted: new Counter({
      name: METRICS.retentionDeleted,
      help: 'Rows retention deleted after RETENTION_HOURS, by kind (a stream counts once; its log goes with it)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    lastSweep: new Gauge({
      name: METRICS.retentionLastSweep,
      help: 'When this replica last completed a retention sweep (Unix seconds)',
      registers: [registry],
    }),
  };
  zeroSeries(metrics.deleted, 'kind', SWEPT_KINDS);
  return metrics;
}
export type RetentionMetrics = ReturnType<typeof createRetentionMetrics>;
