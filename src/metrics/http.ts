import { Counter, Gauge, type Registry } from 'prom-client';
import { METRICS } from './names.js';

export type RejectReason = 'draining' | 'too_many_streams' | 'unauthorized' | 'bad_request';

export function createHttpMetrics(registry: Registry) {
  return {
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
    rejected: new Counter({
      name: METRICS.httpRejected,
      help: 'Requests refused before doing work, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
export type HttpMetrics = ReturnType<typeof createHttpMetrics>;
