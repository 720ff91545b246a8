import { describe, expect, it } from 'vitest';
import { runLocal } from './drivers/local.js';
import { exclusively } from '../testkit/exclusive.js';

/**
 * The e2e scenario through the local driver (real PostgreSQL, Prometheus, upstream and three
 * replicas behind a load balancer), as part of `npm test`. Progress goes to stdout; the report to
 * reports/e2e-local/.
 */
describe('e2e (local driver)', () => {
  // Up to 10 min waiting for the chaos run's cluster (one local cluster at a time), then its own run.
  it('no client notices rolling restarts, a SIGKILL, a database restart or upstream faults', { timeout: 1_200_000 }, async () => {
    const { report } = await exclusively('local-cluster', () =>
      runLocal((line) => process.stdout.write(`[e2e:local] ${line}\n`)),
    );
    const failures = report.cases.flatMap((c) => c.failures.map((f) => `${c.name}: ${f}`));
    expect(failures).toEqual([]);
    expect(report.cases.length).toBeGreaterThanOrEqual(4);
  });
});
