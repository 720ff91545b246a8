/**
 * Tokens/s and p99 inter-token latency of OpenAI chat-completions streaming
 * (`POST /v1/chat/completions`, `stream: true`) through lastcall vs a bare Express proxy that
 * relays the same standalone upstream's chat.completion.chunk events, in one run.
 * `npx tsx bench/chat-completions-throughput.ts` (after `npm run build`).
 * Targets: lastcall ≥ 0.9 × the proxy's throughput, < 2 ms added p99 inter-token latency.
 */
import express from 'express';
import OpenAI from 'openai';
import type { AddressInfo } from 'node:net';
import { startPostgres } from '../testkit/postgres.js';
import { releaseServices, startService } from '../testkit/service.js';
import { percentile, startUpstream, timedTokens } from './streams-support.js';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 50);
/** At most: each prompt's answer ends where the dev upstream's text does. */
const TOKENS = Number(process.env.BENCH_TOKENS ?? 1000);
const RATE = Number(process.env.BENCH_RATE ?? 200); // per stream: one token every 5 ms
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** A chunk that carries a content delta (not the role chunk, the finish chunk or [DONE]). */
const CONTENT_CHUNK = /^data: \{.*"delta":\{"content"/gm;

const upstream = await startUpstream(RATE);

/** The baseline: an OpenAI-compatible relay of the upstream, with no durability at all. */
function bareProxy(): Promise<{ url: string; close(): void }> {
  const client = new OpenAI({ baseURL: upstream.url, apiKey: 'unused' });
  const app = express();
  app.use(express.json());
  app.post('/v1/chat/completions', async (req, res) => {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const body = req.body as { model: string; messages: { role: 'user'; content: string }[]; max_tokens: number };
    const stream = await client.chat.completions.create({ ...body, stream: true }, { signal: ac.signal });
    for await (const chunk of stream) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    res.end('data: [DONE]\n\n');
  });
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() }),
    );
  });
}

async function run(baseUrl: string) {
  const t0 = performance.now();
  const all = await Promise.all(
    Array.from({ length: STREAMS }, async (_, i) => {
      const res = await fetch(`${baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          model: 'lastcall-dev',
          messages: [{ role: 'user', content: `bench stream ${i} ${'x'.repeat(i % 7)}` }],
          max_tokens: TOKENS,
          stream: true,
        }),
      });
      if (!res.ok) throw new Error(`${baseUrl}: ${res.status} ${await res.text()}`);
      return timedTokens(res, CONTENT_CHUNK);
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const tokens = all.reduce((n, t) => n + t.length, 0);
  const gaps = all.flatMap((t) => t.slice(1).map((x, i) => x - t[i]!));
  return { tokensPerSecond: tokens / wall, p50: percentile(gaps, 50), p99: percentile(gaps, 99), tokens };
}

const proxy = await bareProxy();
// Real PostgreSQL, as in any multi-replica deployment (embedded PGlite runs in the service's own event loop).
const pg = await startPostgres();
const svc = await startService({
  DATABASE_URL: pg.url,
  OPENAI_BASE_URL: upstream.url,
  MAX_CONCURRENT_STREAMS: String(STREAMS * 2),
  KEY_RATE_BURST: String(STREAMS * 4),
});
try {
  await run(proxy.url); // warm both paths up
  await run(svc.url);
  // This VM's speed drifts over seconds: alternate short runs and compare each round with itself.
  const rounds: { base: Awaited<ReturnType<typeof run>>; ours: Awaited<ReturnType<typeof run>> }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const base = await run(proxy.url);
    const ours = await run(svc.url);
    // The same prompts on both sides: the same answers (each at most TOKENS long).
    if (ours.tokens !== base.tokens) throw new Error(`lastcall sent ${ours.tokens} tokens, the proxy ${base.tokens}`);
    rounds.push({ base, ours });
  }
  const f = (n: number) => n.toFixed(2);
  const median = (xs: number[]) => percentile(xs, 50);
  console.log(
    `${STREAMS} concurrent chat-completions streams × ≤ ${TOKENS} tokens, upstream ${RATE} tokens/s per stream, ${ROUNDS} rounds (database: PostgreSQL)`,
  );
  for (const [i, { base, ours }] of rounds.entries()) {
    console.log(
      `round ${i + 1}: bare proxy ${f(base.tokensPerSecond)} tokens/s, p50 ${f(base.p50)} ms, p99 ${f(base.p99)} ms; ` +
        `lastcall ${f(ours.tokensPerSecond)} tokens/s, p50 ${f(ours.p50)} ms, p99 ${f(ours.p99)} ms`,
    );
  }
  const ratios = rounds.map((r) => r.ours.tokensPerSecond / r.base.tokensPerSecond);
  const added = rounds.map((r) => r.ours.p99 - r.base.p99);
  console.log(
    `throughput ratio median ${f(median(ratios))} (rounds ${ratios.map(f).join(', ')}) [≥ 0.9]; ` +
      `added p99 inter-token latency median ${f(median(added))} ms (rounds ${added.map(f).join(', ')}) [< 2 ms]`,
  );
} finally {
  await releaseServices(); // the replica and its data directory
  proxy.close();
  upstream.stop();
  await pg.stop();
}
process.exit(0);
