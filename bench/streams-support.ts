/** Shared pieces of the benchmarks: a standalone upstream, a timed SSE reader and a concurrent stream load (streams), percentiles (all). */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../testkit/service.js';

/** The dev upstream as its own process, so neither side under test pays for generating tokens. */
export function startUpstream(tokensPerSecond: number): Promise<{ url: string; stop(): void }> {
  const proc = spawn(
    process.execPath,
    [path.join(ROOT, 'dist/upstream/cli.js'), '--port', '0', '--tokens-per-second', String(tokensPerSecond)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`upstream exited ${code}`)));
    proc.stdout.setEncoding('utf8').once('data', (line: string) => {
      resolve({ url: (JSON.parse(line) as { url: string }).url, stop: () => void proc.kill('SIGKILL') });
    });
  });
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
      return timedTokens(res);
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const received = all.reduce((n, t) => n + t.length, 0);
  const gaps = all.flatMap((t) => t.slice(1).map((x, i) => x - t[i]!));
  return { tokensPerSecond: received / wall, p50: percentile(gaps, 50), p99: percentile(gaps, 99), tokens: received };
}
