/**
 * What STREAM_PERSIST=before-send costs: two replicas on one PostgreSQL and one upstream, one
 * persisting after it sends each token (the default) and one holding each token until the write
 * that holds it commits, measured in alternating rounds so the machine's drift hits both alike.
 * `npx tsx bench/streams-persist.ts` (after `npm run build`). PostgreSQL runs durable (fsync and
 * synchronous commit on). Target: < 20 ms added p99 inter-token latency at 50 streams × 50
 * tokens/s (a typical LLM rate): a token waits at most for the write in flight and then its own,
 * two commits, which the bench measures on the same server and prints beside it.
 */
import pg from 'pg';
import { startPostgres } from '../testkit/postgres.js';
import { startService } from '../testkit/service.js';
import { percentile, startUpstream, streamLoad, type StreamLoad } from './streams-support.js';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 50);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 300);
const RATE = Number(process.env.BENCH_RATE ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);

const upstream = await startUpstream(RATE);
const postgres = await startPostgres({ durable: true }); // a commit costs what it costs in production
const service = (persist: string) =>
  startService({
    DATABASE_URL: postgres.url,
    OPENAI_BASE_URL: upstream.url,
    STREAM_PERSIST: persist,
    MAX_CONCURRENT_STREAMS: String(STREAMS * 2),
    // One anonymous key opens every stream of a round at once: its rate and stream caps would refuse them.
    KEY_RATE_PER_SECOND: '10000',
    KEY_RATE_BURST: '10000',
    KEY_MAX_STREAMS: String(STREAMS * 2),
  });
const [after, before] = await Promise.all([service('after-send'), service('before-send')]);

/** p50/p99 of a 50-row insert's commit on this server: what one stream-log write waits for. */
async function commitLatency() {
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  // Not a temporary table: those skip the WAL, so their commits cost nothing.
  await client.query('CREATE TABLE bench_commit_probe (id int, seq int, data text)');
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await client.query(`INSERT INTO bench_commit_probe SELECT g, ${i}, 'token' FROM generate_series(1, 50) g`);
    times.push(performance.now() - t0);
  }
  await client.query('DROP TABLE bench_commit_probe');
  await client.end();
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}
/** Log writes and their p50/p99 as bucket upper bounds, from a replica's histogram. */
async function logWrites(adminUrl: string) {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const buckets = [...text.matchAll(/^lastcall_stream_log_write_duration_seconds_bucket\{le="([^"]+)"[^}]*\} (\d+)/gm)].map(
    (m) => ({
      le: Number(m[1]),
      count: Number(m[2]),
    }),
  );
  const total = buckets.at(-1)?.count ?? 0;
  const bound = (q: number) => (buckets.find((b) => b.count >= q * total)?.le ?? NaN) * 1000;
  return `${total} writes, p50 ≤ ${bound(0.5)} ms, p99 ≤ ${bound(0.99)} ms`;
}
try {
  await streamLoad(after.url, STREAMS, 100); // warm both up
  await streamLoad(before.url, STREAMS, 100);
  const rounds: { after: StreamLoad; before: StreamLoad }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const a = await streamLoad(after.url, STREAMS, TOKENS);
    const b = await streamLoad(before.url, STREAMS, TOKENS);
    rounds.push({ after: a, before: b });
  }
  const f = (n: number) => n.toFixed(2);
  const commit = await commitLatency();
  console.log(
    `${STREAMS} concurrent streams × ${TOKENS} tokens, upstream ${RATE} tokens/s per stream, PostgreSQL, ${ROUNDS} rounds`,
  );
  console.log('round | after-send p50 / p99 ms | before-send p50 / p99 ms | added p99 ms | tokens/s after / before');
  rounds.forEach(({ after: a, before: b }, i) =>
    console.log(
      `${i + 1}     | ${f(a.p50)} / ${f(a.p99)}        | ${f(b.p50)} / ${f(b.p99)}          | ${f(b.p99 - a.p99)}        | ${a.tokensPerSecond.toFixed(0)} / ${b.tokensPerSecond.toFixed(0)}`,
    ),
  );
  const added = rounds.map((r) => r.before.p99 - r.after.p99);
  console.log(`commit of a 50-row write on this server: p50 ${f(commit.p50)} ms, p99 ${f(commit.p99)} ms`);
  console.log(`log writes, after-send: ${await logWrites(after.adminUrl)}; before-send: ${await logWrites(before.adminUrl)}`);
  console.log(`added p99 inter-token latency, median of ${ROUNDS} rounds: ${f(percentile(added, 50))} ms [< 20 ms]`);
  console.log(
    `throughput before-send / after-send, median: ${f(
      percentile(
        rounds.map((r) => r.before.tokensPerSecond / r.after.tokensPerSecond),
        50,
      ),
    )} [≥ 0.95]`,
  );
} finally {
  after.kill('SIGKILL');
  before.kill('SIGKILL');
  upstream.stop();
  await postgres.stop();
}
process.exit(0);
