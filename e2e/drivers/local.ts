import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../local/cluster.js';
import { writeReport } from '../report/write.js';
import type { Driver } from '../scenario/driver.js';
import { runScenario, type ScenarioReport } from '../scenario/rolling-restart.js';
import { ROOT } from '../../testkit/service.js';

/**
 * `npm run e2e:local`: the e2e scenario against the built service as local processes (see
 * e2e/local/cluster.ts). Writes reports/e2e-local/ (timeline.html, timeline.png, summary.json).
 *
 * Env: E2E_STREAMS (200), E2E_TASKS (50), E2E_RESTARTS (5), E2E_PROPAGATION_LAG_MS (1000),
 * E2E_ONLY (run the cases whose name contains it), E2E_NETNS (0: loopback addresses instead of a
 * network namespace per pod; 1: namespaces or fail; default: namespaces where root allows it).
 */
export const REPORT_DIR = path.join(ROOT, 'reports/e2e-local');

export const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);

/** What runLocal runs on the cluster, and where its report goes (default: the e2e scenario, reports/e2e-local). */
export interface LocalPlan {
  readonly reportDir: string;
  run(d: Driver, progress: (line: string) => void): Promise<ScenarioReport>;
}

const E2E_PLAN: LocalPlan = {
  reportDir: REPORT_DIR,
  run: (d, progress) =>
    runScenario(
      d,
      { streams: num('E2E_STREAMS', 200), tasks: num('E2E_TASKS', 50), restarts: num('E2E_RESTARTS', 5), progress },
      process.env.E2E_ONLY || undefined,
    ),
};

export async function runLocal(
  progress: (line: string) => void = log,
  plan: LocalPlan = E2E_PLAN,
): Promise<{ report: ScenarioReport; files: string[] }> {
  const started = Date.now();
  // Pod logs and Prometheus data of the previous run would be mixed into this one's.
  fs.rmSync(path.join(plan.reportDir, 'run'), { recursive: true, force: true });
  const cluster = await LocalCluster.start({
    workDir: path.join(plan.reportDir, 'run'),
    propagationLagMs: num('E2E_PROPAGATION_LAG_MS', 1_000),
    progress,
  });
  try {
    const report = {
      ...(await plan.run(cluster, progress)),
      // Which pod networking ran (namespaces or loopback addresses): into summary.json.
      network: cluster.network,
    };
    const files = await writeReport(plan.reportDir, report, cluster.timeline());
    progress(
      `${report.ok ? 'PASS' : 'FAIL'} in ${((Date.now() - started) / 1000).toFixed(0)} s; report: ${files.map((f) => path.relative(ROOT, f)).join(', ')}`,
    );
    return { report, files };
  } finally {
    await cluster.stop();
  }
}

/** Progress lines as `[label +12.3s] line` on stdout. */
export function progressLog(label: string): (line: string) => void {
  const t0 = Date.now();
  return (line) => process.stdout.write(`[${label} +${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
}

const log = progressLog('e2e:local');

/** The command line: runs `plan`; exits 0 when every case passed, 1 when one failed, 2 on an error. */
export function runFromCommandLine(plan: LocalPlan, progress: (line: string) => void): void {
  runLocal(progress, plan).then(
    ({ report }) => process.exit(report.ok ? 0 : 1),
    (err: unknown) => {
      progress(`error: ${(err as Error).stack ?? String(err)}`);
      process.exit(2);
    },
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) runFromCommandLine(E2E_PLAN, log);
