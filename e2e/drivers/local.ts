import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../local/cluster.js';
import { writeReport } from '../report/write.js';
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

const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);

export async function runLocal(progress: (line: string) => void = log): Promise<{ report: ScenarioReport; files: string[] }> {
  const started = Date.now();
  // Pod logs and Prometheus data of the previous run would be mixed into this one's.
  fs.rmSync(path.join(REPORT_DIR, 'run'), { recursive: true, force: true });
  const cluster = await LocalCluster.start({
    workDir: path.join(REPORT_DIR, 'run'),
    propagationLagMs: num('E2E_PROPAGATION_LAG_MS', 1_000),
    progress,
  });
  try {
    const report = {
      ...(await runScenario(
        cluster,
        { streams: num('E2E_STREAMS', 200), tasks: num('E2E_TASKS', 50), restarts: num('E2E_RESTARTS', 5), progress },
        process.env.E2E_ONLY || undefined,
      )),
      // Which pod networking ran (namespaces or loopback addresses): into summary.json.
      network: cluster.network,
    };
    const files = await writeReport(REPORT_DIR, report, cluster.timeline());
    progress(
      `${report.ok ? 'PASS' : 'FAIL'} in ${((Date.now() - started) / 1000).toFixed(0)} s; report: ${files.map((f) => path.relative(ROOT, f)).join(', ')}`,
    );
    return { report, files };
  } finally {
    await cluster.stop();
  }
}

const t0 = Date.now();
function log(line: string): void {
  process.stdout.write(`[e2e:local +${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runLocal().then(
    ({ report }) => process.exit(report.ok ? 0 : 1),
    (err: unknown) => {
      log(`error: ${(err as Error).stack ?? String(err)}`);
      process.exit(2);
    },
  );
}
