import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { CHAOS_REPORT_DIR, chaosPlan } from './drivers/chaos.js';
import { runLocal } from './drivers/local.js';
import { exclusively } from '../testkit/exclusive.js';

/**
 * The chaos run's short version (`npm run chaos` is the full one; CHAOS_* env overrides these
 * defaults): 2 rollouts, 3 SIGKILLs, a 5 s PostgreSQL stall and a partition longer than the
 * lease, each under 20 streams, 10 tasks and embeddings. Fails on any lost stream, task step
 * missing or recorded twice, or gracefully drained pod that did not exit 0 in time. Report:
 * reports/chaos/short/ (the full run's is reports/chaos/).
 */
const SHORT = {
  CHAOS_FAULTS: 'rollouts,kills,pg-stall,partition',
  CHAOS_ROLLOUTS: 2,
  CHAOS_KILLS: 3,
  CHAOS_STREAMS: 20,
  CHAOS_TASKS: 10,
  CHAOS_EMBEDDING_WORKERS: 1,
  CHAOS_PARTITION_SECONDS: 12,
};

describe('chaos (local driver, short)', () => {
  it(
    'no stream lost, every task step exactly once, every drained pod exits 0 through rollouts, SIGKILLs, a database stall and a partition',
    // Up to 10 min waiting for the e2e scenario's cluster, then its own run.
    { timeout: 1_200_000 },
    async () => {
      const { report } = await exclusively('local-cluster', () =>
        runLocal((line) => process.stdout.write(`[chaos] ${line}\n`), chaosPlan(SHORT, path.join(CHAOS_REPORT_DIR, 'short'))),
      );
      const failures = report.cases.flatMap((c) => c.failures.map((f) => `${c.name}: ${f}`));
      expect(failures).toEqual([]);
      expect(report.cases.map((c) => c.name.split(':')[0])).toEqual(['rollouts', 'kills', 'partition', 'pg-stall']);
    },
  );
});
