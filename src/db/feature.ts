import type { DatabaseConfig } from '../config/load.js';
import type { CoreDeps, Feature } from '../feature.js';
import { createDatabaseMetrics } from './metrics.js';
import { openDatabase, type Database } from './database.js';
import { Notifications } from './notifications.js';

/**
 * The database every other feature uses, and its notifications (one listening connection that
 * wakes every waiter of this replica); both close last, once nothing queries or waits.
 */
export async function createDatabaseFeature(
  deps: CoreDeps,
  config: DatabaseConfig,
): Promise<Feature & { readonly db: Database; readonly notifications: Notifications }> {
  const metrics = createDatabaseMetrics(deps.registry);
  const db = await openDatabase({ ...config, logger: deps.logger, metrics });
  const notifications = new Notifications(db, deps.logger, metrics);
  // A first failure is logged and retried in the background: waiters poll until it listens.
  await notifications.start();
  return {
    name: 'database',
    db,
    notifications,
    participants: [
      { name: 'database:notifications', phase: 'release', close: (deadline) => notifications.close(deadline) },
      { name: 'database', phase: 'release', close: (deadline) => db.close(deadline) },
    ],
  };
}
