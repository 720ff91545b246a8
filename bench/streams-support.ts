/** Shared pieces of the benchmarks: a standalone upstream and a timed SSE reader (streams), percentiles (all). */
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
