import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { emulatorControl, type EmulatorControl } from './control.js';
import type { ProfileName } from './profiles.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(HERE, 'cli.ts');

export interface EmulatorProcessOptions {
  profile?: ProfileName;
  tokensPerSecond?: number;
  models?: string[];
  minTokens?: number;
  maxTokens?: number;
  thinking?: boolean;
  apiKey?: string;
  port?: number;
  host?: string;
  /** How long to wait for the listening line. */
  timeoutMs?: number;
}

export interface EmulatorProcess {
  readonly proc: ChildProcess;
  readonly port: number;
  /** The origin, where `/__emulator/*` lives. */
  readonly url: string;
  /** What an OpenAI client takes as its base URL. */
  readonly baseUrl: string;
  readonly control: EmulatorControl;
  readonly stderr: () => string;
  /** Resolves with the exit code and signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` (SIGTERM by default) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the emulator CLI as a child process and resolves once it prints its listening line. */
export async function startEmulatorProcess(opts: EmulatorProcessOptions = {}): Promise<EmulatorProcess> {
  const args = ['--import', 'tsx', CLI, '--port', String(opts.port ?? 0), '--host', opts.host ?? '127.0.0.1'];
  if (opts.profile) args.push('--profile', opts.profile);
  if (opts.tokensPerSecond !== undefined) args.push('--tokens-per-second', String(opts.tokensPerSecond));
  for (const m of opts.models ?? []) args.push('--model', m);
  if (opts.minTokens !== undefined) args.push('--min-tokens', String(opts.minTokens));
  if (opts.maxTokens !== undefined) args.push('--max-tokens', String(opts.maxTokens));
  if (opts.thinking) args.push('--thinking');
  if (opts.apiKey) args.push('--api-key', opts.apiKey);

  // cwd is the package root so `--import tsx` resolves from its node_modules.
  const proc = spawn(process.execPath, args, { cwd: path.resolve(HERE, '../..'), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );

  const listening = await new Promise<{ port: number; url: string; baseUrl: string }>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`emulator did not start within ${opts.timeoutMs ?? 30_000} ms; stderr: ${stderr.slice(-2000)}`));
    }, opts.timeoutMs ?? 30_000);
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const parsed = JSON.parse(line) as { msg?: string; port: number; url: string; baseUrl: string };
          if (parsed.msg === 'listening') {
            clearTimeout(timer);
            resolve(parsed);
          }
        } catch {
          // Not a JSON line: nothing the emulator prints on purpose.
        }
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited (${code ?? signal}) before listening; stderr: ${stderr.slice(-2000)}`));
    });
  });

  return {
    proc,
    port: listening.port,
    url: listening.url,
    baseUrl: listening.baseUrl,
    control: emulatorControl(listening.url),
    stderr: () => stderr,
    exited,
    stop: (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
