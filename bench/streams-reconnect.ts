/**
 * Reconnect to the first resumed token on another replica: a client streaming from replica A gets
 * A's handoff `end` (SIGTERM), connects to replica B at once, and B claims the stream, reads the
 * prefix and continues it. Measured from the `end` event to B's first token; the upstream's own
 * time to first token (≈ 0 for the dev upstream at 1,000 tokens/s) is not subtracted.
 * `npx tsx bench/streams-reconnect.ts` (after `npm run build`). Target: < 250 ms.
 */
import { startPostgres } from '../testkit/postgres.js';
import { startService } from '../testkit/service.js';
import { longPrompt, percentile } from './streams-support.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const pg = await startPostgres();
const env = (id: string) => ({
  DATABASE_URL: pg.url,
  REPLICA_ID: id,
  TERMINATION_GRACE_PERIOD_SECONDS: '3',
  SHUTDOWN_SAFETY_MARGIN_SECONDS: '0.5',
  DEV_UPSTREAM_TOKENS_PER_SECOND: '1000',
});
const b = await startService(env('b'));
const samples: number[] = [];
try {
  for (let run = 0; run < RUNS; run++) {
    const a = await startService(env(`a${run}`));
    const res = await fetch(`${a.url}/v1/chat/stream`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      // An answer that outlasts A's drain phase at 1,000 tokens/s.
      body: JSON.stringify({ messages: longPrompt(`reconnect bench ${run}`, 1000), max_tokens: 4096 }),
    });
    const id = res.headers.get('lastcall-stream-id')!;
    let buf = '';
    let signalled = false;
    let lastId = 0;
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      if (!signalled && buf.includes('\nevent: token')) {
        signalled = true;
        a.kill('SIGTERM');
      }
      if (/event: end\ndata: .*\n/.test(buf)) break;
    }
    const endAt = performance.now();
    if (!/event: end/.test(buf)) throw new Error('stream finished before the handoff: use a longer prompt');
    lastId = (JSON.parse(/event: end\ndata: (.*)\n/.exec(buf)![1]!) as { last_event_id: number }).last_event_id;
    const resumed = await fetch(`${b.url}/v1/streams/${id}`, { headers: { 'Last-Event-ID': String(lastId) } });
    for await (const chunk of resumed.body as unknown as AsyncIterable<Uint8Array>) {
      if (decoder.decode(chunk).includes('event: token')) break;
    }
    samples.push(performance.now() - endAt);
    await a.exited;
  }
  const f = (n: number) => n.toFixed(1);
  console.log(
    `${RUNS} handoffs A → B on PostgreSQL: end → first resumed token p50 ${f(percentile(samples, 50))} ms, max ${f(Math.max(...samples))} ms [< 250 ms]`,
  );
  console.log(`samples: ${samples.map(f).join(', ')} ms`);
} finally {
  b.kill('SIGKILL');
  await pg.stop();
}
process.exit(0);
