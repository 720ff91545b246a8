/**
 * Throwaway PostgreSQL 15 + pgvector clusters for integration and e2e tests.
 *
 *   const pg = await startPostgres();          // fresh temp datadir, free port
 *   process.env.DATABASE_URL = pg.url;         // postgres://postgres@127.0.0.1:<port>/lastcall
 *   await pg.restart();                        // fast stop + start, same port, data kept
 *   await pg.stop();                           // stop and delete the datadir
 *
 * Wraps scripts/pg/start.sh and scripts/pg/stop.sh (which need the PostgreSQL 15
 * binaries and pgvector installed: scripts/ci/install-system.sh). When the test
 * process runs as root, the server runs as the `postgres` OS user.
 *
 * Clusters still running when the Node process exits are stopped (immediate mode)
 * and their temp dirs removed, so a crashed test run doesn't leak servers.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StartPostgresOptions {
  /** TCP port on 127.0.0.1; default: a free port picked by the OS. */
  port?: number;
  /** fsync and synchronous commit on, as in production (default off: tests need no crash safety). */
  durable?: boolean;
}

export interface RestartOptions {
  /** Keep the server down this long between stop and start (ms; default 0). */
  downMs?: number;
  /** pg_ctl shutdown mode; default 'fast' (disconnects clients, clean shutdown). */
  mode?: 'fast' | 'immediate' | 'smart';
}

export interface PostgresInstance {
  /** postgres://postgres@127.0.0.1:<port>/lastcall (trust auth, pgvector created). */
  url: string;
  port: number;
  /** The cluster's data directory (inside a temp dir removed by stop()). */
  dataDir: string;
  /** Server log file (dataDir/server.log). */
  logFile: string;
  /** Stop (default -m fast) and start again on the same port; resolves when ready. */
  restart(opts?: RestartOptions): Promise<void>;
  /** Freeze every process of the cluster (SIGSTOP): connections stay open and nothing answers. */
  pause(): void;
  /** SIGCONT what pause() froze. */
  resume(): void;
  /** Stop the server and delete its temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

function findScriptsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'scripts', 'pg');
    if (existsSync(join(candidate, 'start.sh'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('startPostgres: scripts/pg/start.sh not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

const SCRIPTS_DIR = findScriptsDir();
const START = join(SCRIPTS_DIR, 'start.sh');
const STOP = join(SCRIPTS_DIR, 'stop.sh');

function run(file: string, args: string[], timeoutMs = 120_000, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`.trimEnd()));
      } else {
        resolvePromise(stdout);
      }
    });
  });
}

/** A port that is free right now on 127.0.0.1 (small race window until PG binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: no port'));
        return;
      }
      const { port } = addr;
      srv.close(() => resolvePromise(port));
    });
  });
}

// Clusters to clean up if the process exits without stop().
const live = new Map<string, string>(); // tmp dir -> data dir
// Processes pause() froze: they must run again to be stopped.
const paused = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    if (paused.size > 0) {
      try {
        execFileSync('kill', ['-CONT', ...paused], { stdio: 'ignore' });
      } catch {
        /* best effort */
      }
    }
    for (const [tmp, dataDir] of live) {
      try {
        execFileSync(STOP, [dataDir, 'immediate'], { stdio: 'ignore', timeout: 30_000 });
      } catch {
        /* best effort */
      }
      try {
        rmSync(tmp, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
    live.clear();
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresInstance> {
  const tmp = await mkdtemp(join(tmpdir(), 'lastcall-pg-'));
  // The server may run as the `postgres` OS user: it must be able to enter tmp.
  await chmod(tmp, 0o755);
  const dataDir = resolve(tmp, 'data');
  live.set(tmp, dataDir);
  installExitHook();

  let port = opts.port ?? 0;
  let url: string;
  const attempts = opts.port === undefined ? 3 : 1;
  for (let i = 1; ; i++) {
    if (opts.port === undefined) port = await freePort();
    try {
      const env = { ...process.env, PG_DURABLE: opts.durable ? '1' : '0' };
      url = (await run(START, [dataDir, String(port)], undefined, env)).trim().split('\n').pop() ?? '';
      break;
    } catch (err) {
      // Most likely someone took the port between freePort() and bind: retry on another.
      if (i >= attempts) {
        live.delete(tmp);
        await run(STOP, [dataDir, 'immediate']).catch(() => undefined);
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
    }
  }
  if (!url.startsWith('postgres://')) throw new Error(`startPostgres: unexpected output from start.sh: ${url}`);

  let stopped = false;
  // The postmaster and its backends, as they are now (backends come and go with connections).
  const clusterPids = () => {
    const postmaster = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]!.trim();
    const children = execFileSync('pgrep', ['-P', postmaster]).toString().trim().split('\n').filter(Boolean);
    return [postmaster, ...children];
  };
  let frozen: string[] = [];
  const resume = () => {
    if (frozen.length > 0) execFileSync('kill', ['-CONT', ...frozen]);
    for (const pid of frozen) paused.delete(pid);
    frozen = [];
  };
  return {
    url,
    port,
    dataDir,
    logFile: join(dataDir, 'server.log'),
    async restart(restartOpts: RestartOptions = {}) {
      if (stopped) throw new Error('startPostgres: restart() after stop()');
      await run(STOP, [dataDir, restartOpts.mode ?? 'fast']);
      if (restartOpts.downMs) await sleep(restartOpts.downMs);
      await run(START, [dataDir, String(port)]);
    },
    pause() {
      frozen = clusterPids();
      for (const pid of frozen) paused.add(pid);
      execFileSync('kill', ['-STOP', ...frozen]);
    },
    resume,
    async stop() {
      if (stopped) return;
      resume();
      stopped = true;
      try {
        await run(STOP, [dataDir, 'fast']);
      } finally {
        live.delete(tmp);
        await rm(tmp, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Transactions per second the database counts over `seconds` (commits and rollbacks of every
 * session, less this function's own read), read through `client`. Idle backends report their
 * counts up to 10 s late: let what came before settle first.
 */
export async function transactionRate(
  client: { query<R>(sql: string): Promise<{ rows: R[] }> },
  seconds: number,
): Promise<number> {
  const read = async () =>
    Number(
      (
        await client.query<{ n: string }>(
          `SELECT pg_stat_force_next_flush(), (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()) AS n`,
        )
      ).rows[0]!.n,
    );
  const before = await read();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const after = await read();
  return (after - before - 1) / ((performance.now() - t0) / 1000);
}
