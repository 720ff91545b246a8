import { Counter, Gauge, type Registry } from 'prom-client';
import { METRICS } from '../metrics/names.js';
import { zeroSeries } from '../metrics/registry.js';
import { CHANNELS } from './channels.js';

/**
 * `unavailable`: no connection could be made or it broke; `timeout`: a query or the wait for a
 * pool client ran past its limit; `query`: the database refused a statement.
 */
export const DATABASE_ERROR_KINDS = ['unavailable', 'timeout', 'query'] as const;
export type DatabaseErrorKind = (typeof DATABASE_ERROR_KINDS)[number];

export function createDatabaseMetrics(registry: Registry) {
  const metrics = {
    errors: new Counter({
      name: METRICS.databaseErrors,
      help: 'Database calls that failed, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    notifications: new Counter({
      name: METRICS.databaseNotifications,
      help: 'Notifications received on the listening connection, by channel (each wakes the waiters for its row)',
      labelNames: ['channel'],
      registers: [registry],
    }),
    listening: new Gauge({
      name: METRICS.databaseListening,
      help: '1 while the listening connection is open; 0 while it reconnects (waiters poll meanwhile)',
      registers: [registry],
    }),
  };
  zeroSeries(metrics.errors, 'kind', DATABASE_ERROR_KINDS);
  zeroSeries(metrics.notifications, 'channel', CHANNELS);
  return metrics;
}
export type DatabaseMetrics = ReturnType<typeof createDatabaseMetrics>;
