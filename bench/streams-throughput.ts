/**
 * Tokens/s and p99 inter-token latency through lastcall vs a bare Express SSE proxy of the same
 * upstream, in one run. `npx tsx bench/streams-throughput.ts` (after `npm run build`).
 * Targets: lastcall ≥ 0.9 × the proxy's throughput, < 2 ms added p99 inter-token latency.
 */
import express from 'express';
import OpenAI from 'openai';
import type { AddressInfo } from 'node:net';
import { startPostgres } from '../testkit/postgres.js';
import { startService } from '../testkit/service.js';
import { startUpstream, streamLoad } from './streams-support.js';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 50);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 1000);
const RATE = Number(process.env.BENCH_RATE ?? 200); // per stream: one token every 5 ms

const upstream = await startUpstream(RATE);

/** The baseline: what any SSE proxy of the upstream costs, with no durability at all. */
function bareProxy(): Promise<{ url: string; close(): void }> {
  const client = new OpenAI({ baseURL: upstream.url, apiKey: 'unused' });
  const app = express();
  app.use(express.json());
  app.post('/v1/chat/stream', async (req, res) => {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const body = req.body as { messages: { role: 'user'; content: string }[]; max_tokens: number };
    const stream = await client.chat.completions.create(
      { model: 'lastcall-dev', messages: body.messages, max_tokens: body.max_tokens, stream: true },
      { signal: ac.signal },
    );
    let seq = 0;
    for await (const chunk of stream) {
      const text = chunk.choices[0]?.delta?.content;
      if (text) res.write(`id: ${++seq}\nevent: token\ndata: ${JSON.stringify({ text })}\n\n`);
    }
    res.end();
  });
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() }),
    );
  });
}

const run = (baseUrl: string) => streamLoad(baseUrl, STREAMS, TOKENS);

const proxy = await bareProxy();
// Real PostgreSQL, as in any multi-replica deployment (embedded PGlite runs in the service's own event loop).
const pg = await startPostgres();
const svc = await startService({
  DATABASE_URL: pg.url,
  OPENAI_BASE_URL: upstream.url,
  MAX_CONCURRENT_STREAMS: String(STREAMS * 2),
});
try {
  await run(proxy.url); // warm both paths up
  await run(svc.url);
  const base = await run(proxy.url);
  const ours = await run(svc.url);
  const f = (n: number) => n.toFixed(2);
  console.log(`${STREAMS} concurrent streams × ${TOKENS} tokens, upstream ${RATE} tokens/s per stream (database: PostgreSQL)`);
  console.log(`bare proxy : ${f(base.tokensPerSecond)} tokens/s, inter-token p50 ${f(base.p50)} ms, p99 ${f(base.p99)} ms`);
  console.log(`lastcall   : ${f(ours.tokensPerSecond)} tokens/s, inter-token p50 ${f(ours.p50)} ms, p99 ${f(ours.p99)} ms`);
  console.log(
    `throughput ratio ${f(ours.tokensPerSecond / base.tokensPerSecond)} [≥ 0.9]; added p99 inter-token latency ${f(ours.p99 - base.p99)} ms [< 2 ms]`,
  );
} finally {
  svc.kill('SIGKILL');
  proxy.close();
  upstream.stop();
  await pg.stop();
}
process.exit(0);
