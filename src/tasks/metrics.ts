import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CLAIM_VIAS } from '../leases/table.js';
import { FINAL_STATUSES } from './state.js';
import { METRICS } from '../metrics/names.js';
import { zeroSeries } from '../metrics/registry.js';

export function createTaskMetrics(registry: Registry) {
  const metrics = {
    eventStreams: new Gauge({
      name: METRICS.taskEventStreams,
      help: 'Task progress event streams (GET /v1/tasks/:id/events) open on this replica',
      registers: [registry],
    }),
    active: new Gauge({
      name: METRICS.tasksActive,
      help: 'Tasks this replica holds a lease on and is running',
      registers: [registry],
    }),
    total: new Counter({
      name: METRICS.tasksTotal,
      help: 'Tasks that reached a final state, by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    handoffs: new Counter({
      name: METRICS.taskHandoffs,
      help: 'Task leases this replica released during shutdown for another replica to claim',
      registers: [registry],
    }),
    recovered: new Counter({
      name: METRICS.tasksRecovered,
      help: 'Tasks this replica resumed from a checkpoint: released at handoff, or after the lease expired',
      labelNames: ['via'],
      registers: [registry],
    }),
    checkpoints: new Counter({
      name: METRICS.taskCheckpoints,
      help: 'Task steps committed (one epoch-fenced transaction each)',
      registers: [registry],
    }),
    stepDuration: new Histogram({
      name: METRICS.taskStepDuration,
      help: 'Time to run one task step, checkpoint included, by step kind',
      labelNames: ['kind'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
  };
  zeroSeries(metrics.total, 'outcome', FINAL_STATUSES);
  zeroSeries(metrics.recovered, 'via', CLAIM_VIAS);
  return metrics;
}
export type TaskMetrics = ReturnType<typeof createTaskMetrics>;
