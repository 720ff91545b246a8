/**
 * RSS of one replica holding 1,000 concurrent streams, above its idle RSS.
 * `npx tsx bench/streams-memory.ts` (after `npm run build`). Target: < 300 MB above idle.
 */
import { startService } from '../testkit/service.js';
import { startUpstream } from './streams-support.js';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 1000);

const rss = async (adminUrl: string) => {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('process_resident_memory_bytes'));
  return Number(line?.split(' ').at(-1)) / 2 ** 20;
};
const metric = async (adminUrl: string, name: string) => {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  return Number(
    text
      .split('\n')
      .find((l) => l.startsWith(name))
      ?.split(' ')
      .at(-1) ?? 0,
  );
};

// Slow tokens keep every stream open for the whole measurement.
const upstream = await startUpstream(5);
const svc = await startService({ OPENAI_BASE_URL: upstream.url, MAX_CONCURRENT_STREAMS: String(STREAMS + 10) });
try {
  await new Promise((r) => setTimeout(r, 2_000));
  const idle = await rss(svc.adminUrl);
  const controllers = Array.from({ length: STREAMS }, () => new AbortController());
  let tokens = 0;
  await Promise.all(
    controllers.map(async (c, i) => {
      const res = await fetch(`${svc.url}/v1/chat/stream`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: `memory bench ${i}` }], max_tokens: 4096 }),
        signal: c.signal,
      });
      if (res.status !== 200) throw new Error(`stream ${i}: HTTP ${res.status}`);
      void (async () => {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) tokens += chunk.length > 0 ? 1 : 0;
      })().catch(() => undefined);
    }),
  );
  await new Promise((r) => setTimeout(r, 10_000));
  const loaded = await rss(svc.adminUrl);
  const active = await metric(svc.adminUrl, 'lastcall_streams_active');
  console.log(`${STREAMS} streams open (${active} generating), ${tokens} SSE chunks received in 10 s`);
  console.log(
    `RSS idle ${idle.toFixed(0)} MB, with ${STREAMS} streams ${loaded.toFixed(0)} MB: ${(loaded - idle).toFixed(0)} MB above idle [< 300 MB]`,
  );
  for (const c of controllers) c.abort();
} finally {
  svc.kill('SIGKILL');
  upstream.stop();
}
process.exit(0);
