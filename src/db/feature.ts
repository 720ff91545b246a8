import type { DatabaseConfig } from '../config/load.js';
import type { CoreDeps, Feature } from '../feature.js';
import { createDatabaseMetrics } from './metrics.js';
import { openDatabase, type Database } from './database.js';

/** The database every other feature uses; it closes last, once nothing queries it. */
export async function createDatabaseFeature(
  deps: CoreDeps,
  config: DatabaseConfig,
): Promise<Feature & { readonly db: Database }> {
  const db = await openDatabase({
    ...config,
    logger: deps.logger,
    metrics: createDatabaseMetrics(deps.registry),
  });
  return {
    name: 'database',
    db,
    participants: [{ name: 'database', phase: 'release', close: (deadline) => db.close(deadline) }],
  };
}
