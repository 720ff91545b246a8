/** Shared pieces of the benchmarks: a standalone upstream, a timed SSE reader and a concurrent stream load (streams), percentiles (all), PostgreSQL's CPU, a replica on its own PostgreSQL, long prompts. */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { plan } from '../src/upstream/text.js';
import { startPostgres, type PostgresInstance } from '../testkit/postgres.js';
import { ROOT, startService, type ServiceProcess } from '../testkit/service.js';

/** A helper process of a bench: its pid (for its CPU) and the URL it printed once listening. */
export interface BenchProcess {
  url: string;
  pid: number;
  stop(): void;
}

/** Spawns `node <args>` and resolves once it prints its first line, JSON with its `url`. */
function spawnListening(args: string[]): Promise<BenchProcess> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  // A bench that fails leaves nothing behind.
  process.once('exit', () => proc.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${args.at(-1)} exited ${code}`)));
    proc.stdout.setEncoding('utf8').once('data', (line: string) => {
      const { url } = JSON.parse(line) as { url: string };
      resolve({ url, pid: proc.pid!, stop: () => void proc.kill('SIGKILL') });
    });
  });
}

/** The dev upstream as its own process, so neither side under test pays for generating tokens. */
export function startUpstream(tokensPerSecond: number): Promise<BenchProcess> {
  return spawnListening([path.join(ROOT, 'dist/upstream/cli.js'), '--port', '0', '--tokens-per-second', String(tokensPerSecond)]);
}

/** The bare SSE proxy of `upstreamUrl` (bench/bare-proxy.ts) as its own process, so its CPU is its own. */
export function startBareProxy(upstreamUrl: string): Promise<BenchProcess> {
  return spawnListening(['--import', 'tsx', path.join(ROOT, 'bench/bare-proxy.ts'), upstreamUrl]);
}

/** Reads an SSE response, timestamping every `data:` line that carries a token (`token` matches one: lastcall's own by default). */
export async function timedTokens(res: Response, token: RegExp = /^data: \{"text"/gm): Promise<number[]> {
  const times: number[] = [];
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    const now = performance.now();
    const text = decoder.decode(chunk, { stream: true });
    for (const m of text.matchAll(token)) if (m) times.push(now);
  }
  return times;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export interface StreamLoad {
  tokensPerSecond: number;
  /** Inter-token gaps, as each client saw them. */
  p50: number;
  p99: number;
  tokens: number;
}

/** `streams` concurrent POST /v1/chat/stream of `tokens` tokens each; throughput and inter-token gaps across all of them. */
export async function streamLoad(baseUrl: string, streams: number, tokens: number): Promise<StreamLoad> {
  const t0 = performance.now();
  const all = await Promise.all(
    Array.from({ length: streams }, async (_, i) => {
      const res = await fetch(`${baseUrl}/v1/chat/stream`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          messages: [{ role: 'user', content: `bench stream ${i} ${'x'.repeat(i % 7)}` }],
          max_tokens: tokens,
        }),
      });
      // A refused stream (a cap, a quota) would count as a short answer: fail the run instead.
      if (!res.ok) throw new Error(`${baseUrl}: HTTP ${res.status} ${await res.text()}`);
      return timedTokens(res);
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const received = all.reduce((n, t) => n + t.length, 0);
  const gaps = all.flatMap((t) => t.slice(1).map((x, i) => x - t[i]!));
  return { tokensPerSecond: received / wall, p50: percentile(gaps, 50), p99: percentile(gaps, 99), tokens: received };
}

/** CPU time of one process (all its threads) in ms: utime + stime, and with `children`, its waited-for children's too (clock ticks are 10 ms on Linux). */
export function processCpuMs(pid: number | string, children = false): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]) + (children ? Number(fields[13]) + Number(fields[14]) : 0);
  return ticks * 10;
}

/** utime + stime of every process of the cluster, in ms. */
export function postgresCpuMs(instance: PostgresInstance): number {
  const postmaster = readFileSync(path.join(instance.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]!.trim();
  const pids = [postmaster, ...execFileSync('pgrep', ['-P', postmaster]).toString().trim().split('\n').filter(Boolean)];
  let ms = 0;
  for (const pid of pids) {
    try {
      ms += processCpuMs(pid, true);
    } catch {
      // A backend that ended between pgrep and the read.
    }
  }
  return ms;
}

/**
 * The conversation `${tag}.${k}` for the first k whose answer from the dev upstream is at least
 * `minTokens` long: a stream that stays open as long as a bench needs it.
 */
export function longPrompt(tag: string, minTokens: number) {
  for (let k = 0; ; k++) {
    const messages = [{ role: 'user', content: `${tag}.${k}` }];
    if (plan(messages).tokens.length >= minTokens) return messages;
  }
}

/** One replica on a PostgreSQL of its own, per-key request rates lifted, and a client of that database. */
export async function replicaOnPostgres(env: Record<string, string>): Promise<{
  svc: ServiceProcess;
  db: pg.Client;
  stop: () => Promise<void>;
}> {
  const postgres = await startPostgres();
  const svc = await startService({
    DATABASE_URL: postgres.url,
    KEY_RATE_PER_SECOND: '10000',
    KEY_RATE_BURST: '10000',
    ...env,
  });
  const db = new pg.Client({ connectionString: postgres.url });
  await db.connect();
  return {
    svc,
    db,
    stop: async () => {
      await db.end();
      svc.kill('SIGKILL');
      await svc.exited;
      await postgres.stop();
    },
  };
}
