import type { Database } from '../db/database.js';
import type { CoreDeps, Feature } from '../feature.js';
import { createRetentionMetrics } from './metrics.js';
import { RetentionSweeper } from './sweeper.js';
import { Tombstones } from './tombstones.js';

export interface RetentionDeps extends CoreDeps {
  readonly db: Database;
}

/** Sweeps often enough that nothing outlives its period by more than a quarter of it, and never more often than each second. */
const intervalMs = (retentionMs: number) => Math.min(5 * 60_000, Math.max(1_000, retentionMs / 4));

/**
 * Retention: finished streams and tasks are deleted `hours` after they end (0 keeps them
 * forever), with a tombstone so their owner gets 410 rather than 404.
 */
export function createRetentionFeature(
  deps: RetentionDeps,
  config: { readonly hours: number },
): Feature & { readonly tombstones: Tombstones } {
  const logger = deps.logger.child({ feature: 'retention' });
  const metrics = createRetentionMetrics(deps.registry);
  const retentionMs = config.hours * 3_600_000;
  const sweeper =
    config.hours > 0
      ? new RetentionSweeper(deps.db, logger, metrics, { retentionMs, intervalMs: intervalMs(retentionMs) })
      : undefined;
  const unsubscribe = deps.drain.onChange((state) => {
    if (state === 'serving') sweeper?.start();
    else unsubscribe();
  });
  return {
    name: 'retention',
    tombstones: new Tombstones(deps.db, config.hours),
    participants: sweeper ? [{ name: 'retention:stop', phase: 'stop-intake', close: (deadline) => sweeper.close(deadline) }] : [],
  };
}
