import { Counter, Gauge, type Registry } from 'prom-client';
import { METRICS } from './names.js';
import { zeroSeries } from './registry.js';

export const REJECT_REASONS = [
  'draining',
  'too_many_streams',
  'too_many_stream_clients',
  'too_many_task_event_streams',
  'too_many_connections',
  'rate_limited',
  'unauthorized',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export function createHttpMetrics(registry: Registry) {
  const metrics = {
    inFlight: new Gauge({
      name: METRICS.httpInFlight,
      help: 'Public API requests being served (streams included)',
      registers: [registry],
    }),
    requests: new Counter({
      name: METRICS.httpRequests,
      help: 'Public API requests answered, by route template and status class',
      labelNames: ['route', 'code'],
      registers: [registry],
    }),
    connections: new Gauge({
      name: METRICS.httpConnections,
      help: 'Open connections to the public API',
      registers: [registry],
    }),
    rejected: new Counter({
      name: METRICS.httpRejected,
      help: 'Requests refused before doing work, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
  zeroSeries(metrics.rejected, 'reason', REJECT_REASONS);
  return metrics;
}
export type HttpMetrics = ReturnType<typeof createHttpMetrics>;
