import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chaosCases, type ChaosOptions } from '../scenario/chaos.js';
import type { Release } from '../scenario/driver.js';
import { runCases } from '../scenario/rolling-restart.js';
import { ROOT } from '../../testkit/service.js';
import { num, progressLog, runFromCommandLine, type LocalPlan } from './local.js';

/**
 * `npm run chaos`: the chaos and soak run on the local cluster (e2e/scenario/chaos.ts). Writes
 * reports/chaos/ (timeline.html, timeline.png, summary.json). Env, with the full run's defaults:
 *
 *   CHAOS_FAULTS            all: rollouts,kills,partition,pg-restart,pg-stall,upstream-stall,version-skew
 *   CHAOS_ROLLOUTS (20)     consecutive rolling restarts
 *   CHAOS_KILLS (50)        SIGKILL trials
 *   CHAOS_STREAMS (200)     streams kept open;  CHAOS_TASKS (50) tasks per fault
 *   CHAOS_EMBEDDING_WORKERS (2)
 *   CHAOS_PARTITION_SECONDS (15: three 5 s leases)
 *   CHAOS_PG_STALL_SECONDS (5)
 *   CHAOS_PREVIOUS (db5e8e3) the previous release ('none': no version skew), built once in a git
 *                            worktree at CHAOS_PREVIOUS_DIR (/tmp/lastcall-prev-<commit>)
 *   E2E_PROPAGATION_LAG_MS, E2E_NETNS as for e2e:local (the partition needs network namespaces).
 */
export const CHAOS_REPORT_DIR = path.join(ROOT, 'reports/chaos');

const sh = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, stdio: 'pipe', timeout: 600_000 }).toString().trim();

/**
 * The previous release's build, as an image would hold it: a git worktree at `commit` sharing
 * this checkout's node_modules, compiled with its own tsconfig.build.json (once; reused after).
 */
export function previousRelease(commit: string, dir: string, progress: (line: string) => void): Release {
  const main = path.join(dir, 'dist/main.js');
  if (!fs.existsSync(dir)) {
    progress(`previous release: git worktree add ${dir} ${commit}`);
    sh('git', ['worktree', 'add', '--detach', dir, commit], ROOT);
  }
  const head = sh('git', ['rev-parse', 'HEAD'], dir);
  const want = sh('git', ['rev-parse', `${commit}^{commit}`], ROOT);
  if (head !== want) throw new Error(`${dir} is at ${head}, not the previous release ${commit} (${want}): remove it`);
  if (!fs.existsSync(path.join(dir, 'node_modules')))
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  if (!fs.existsSync(main)) {
    progress(`previous release: building ${commit} in ${dir}`);
    sh(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], dir);
  }
  return { name: commit.slice(0, 9), main };
}

/** The options from the environment; `defaults` are the full run's unless given (the short test's). */
export function chaosOptions(progress: (line: string) => void, defaults: Partial<Record<string, number | string>> = {}) {
  const n = (name: string, fallback: number) => num(name, Number(defaults[name] ?? fallback));
  const s = (name: string, fallback: string) => process.env[name] ?? String(defaults[name] ?? fallback);
  const previous = s('CHAOS_PREVIOUS', 'db5e8e3');
  const faults = s('CHAOS_FAULTS', '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  const wantsSkew = faults.length === 0 || faults.includes('version-skew');
  const o: ChaosOptions = {
    streams: n('CHAOS_STREAMS', 200),
    tasks: n('CHAOS_TASKS', 50),
    restarts: n('CHAOS_ROLLOUTS', 20),
    kills: n('CHAOS_KILLS', 50),
    embeddingWorkers: n('CHAOS_EMBEDDING_WORKERS', 2),
    partitionSeconds: n('CHAOS_PARTITION_SECONDS', 15),
    databaseStallSeconds: n('CHAOS_PG_STALL_SECONDS', 5),
    progress,
    ...(wantsSkew && previous !== 'none'
      ? { previous: previousRelease(previous, s('CHAOS_PREVIOUS_DIR', `/tmp/lastcall-prev-${previous}`), progress) }
      : {}),
  };
  return { o, faults };
}

/** runLocal's plan for the chaos run. */
export function chaosPlan(defaults: Partial<Record<string, number | string>> = {}, reportDir = CHAOS_REPORT_DIR): LocalPlan {
  return {
    reportDir,
    run: (d, progress) => {
      const { o, faults } = chaosOptions(progress, defaults);
      const list = chaosCases(faults, o);
      progress(`chaos: ${list.map((c) => c.name.split(':')[0]).join(', ')}; ${JSON.stringify({ ...o, progress: undefined })}`);
      return runCases(d, o, list);
    },
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  runFromCommandLine(chaosPlan(), progressLog('chaos'));
