import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const MAIN = path.join(ROOT, 'dist/main.js');

/** Processes started here and the data directories made for them, until released. */
const started = new Set<{ proc: ChildProcess; ownDir: string | undefined }>();

/**
 * Kills every service process still running and removes the data directories made for them.
 * Test files get it as an afterAll hook (testkit/vitest-setup.ts), so a failing test leaves
 * nothing behind either; a script (a bench, a harness) that exits gets the same on its way out.
 */
export async function releaseServices(): Promise<void> {
  for (const s of [...started]) {
    if (s.proc.exitCode === null && s.proc.signalCode === null) {
      const gone = new Promise((r) => s.proc.once('exit', r));
      s.proc.kill('SIGKILL');
      await gone;
    }
    if (s.ownDir) fs.rmSync(s.ownDir, { recursive: true, force: true });
    started.delete(s);
  }
}

let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers run synchronously: a signal to each process and a synchronous removal is all there is time for.
  process.once('exit', () => {
    for (const s of started) {
      if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
      if (s.ownDir) fs.rmSync(s.ownDir, { recursive: true, force: true });
    }
    started.clear();
  });
}

export interface ServiceProcess {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly adminPort: number;
  readonly url: string;
  readonly adminUrl: string;
  readonly dataDir: string;
  /** Every stdout line parsed as JSON (non-JSON lines kept as {raw}). */
  readonly logs: Record<string, unknown>[];
  readonly stderr: () => string;
  /** Resolves with the exit code and signal, and how long after `since` it happened. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  kill(signal?: NodeJS.Signals): void;
  /** The value of the first /metrics line that starts with `prefix` (a name, or `name{label="x"`); NaN when there is none. */
  metric(prefix: string): Promise<number>;
  /** Waits for a log line matching `pred`. */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/**
 * Starts the built service (`dist/main.js`) as a real process on free ports and resolves once it
 * logs `listening`. Env defaults keep it fast and isolated: its own DATA_DIR, no propagation
 * delay unless asked.
 */
export async function startService(
  env: Record<string, string | undefined> = {},
  opts: {
    timeoutMs?: number;
    /** Node options before the script, e.g. `--import` of a fixture. */
    nodeArgs?: string[];
    /** Another build's entry point (a bench's "before"); default this checkout's dist/main.js. */
    main?: string;
  } = {},
): Promise<ServiceProcess> {
  const main = opts.main ?? MAIN;
  if (!fs.existsSync(main)) throw new Error(`${main} missing: run npm run build first`);
  const ownDir = env.DATA_DIR === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'lastcall-test-')) : undefined;
  const dataDir = env.DATA_DIR ?? ownDir!;
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), main], {
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      ADMIN_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      ENDPOINT_PROPAGATION_SECONDS: '0',
      LOG_LEVEL: 'info',
      TERMINATION_MESSAGE_PATH: path.join(dataDir, 'termination-log'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let buf = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ raw: line });
      }
      for (const w of [...waiters]) w();
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  started.add({ proc, ownDir });
  installExitHook();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    proc.once('exit', (code, signal) => {
      for (const w of [...waiters]) w();
      resolve({ code, signal, at: performance.now() });
    }),
  );
  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 30_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for log line; stderr: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      const check = () => {
        const hit = logs.find(pred);
        if (hit) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(hit);
        } else if (proc.exitCode !== null || proc.signalCode !== null) {
          clearTimeout(timer);
          waiters.delete(check);
          reject(
            new Error(`service exited (${proc.exitCode ?? proc.signalCode}) before the log line; stderr: ${stderr.slice(-2000)}`),
          );
        }
      };
      waiters.add(check);
      check();
    });
  const listening = await waitForLog((l) => l.msg === 'listening', opts.timeoutMs ?? 60_000);
  const port = Number(listening.port);
  const adminPort = Number(listening.adminPort);
  return {
    proc,
    port,
    adminPort,
    url: `http://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    dataDir,
    logs,
    stderr: () => stderr,
    exited,
    metric: async (prefix) => {
      const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(prefix));
      return line === undefined ? NaN : Number(line.split(' ').at(-1));
    },
    kill: (signal = 'SIGTERM') => void proc.kill(signal),
    waitForLog,
  };
}

/** Runs the built service to completion (for start-up failures) and returns code and output. */
export function runServiceToExit(
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH, PORT: '0', ADMIN_PORT: '0', HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c) => (stdout += c));
    proc.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`service did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
