/**
 * Does the database stay flat under endless streams? One replica on its own PostgreSQL, streams
 * started back to back for BENCH_SECONDS, twice: keeping everything (RETENTION_HOURS=0) and with
 * a short retention (BENCH_RETENTION_SECONDS, 20 s: sweeps every quarter of it). Prints the
 * database's size (pg_database_size: heap, indexes, TOAST, free space autovacuum has not handed
 * back) and the rows of the stream log as the run goes, then the growth over the second half
 * [with retention: < 10 % of keeping everything's].
 * `npm run build && npx tsx bench/retention-soak.ts`.
 */
import { streamChat } from '../src/client/index.js';
import { replicaOnPostgres } from './streams-support.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 150);
const RETENTION_SECONDS = Number(process.env.BENCH_RETENTION_SECONDS ?? 20);
const SAMPLE_SECONDS = 15;
const CONCURRENCY = 20;
const TOKENS = 200;

interface Sample {
  at: number;
  bytes: number;
  streams: number;
  chunks: number;
}

async function soak(retentionHours: string): Promise<Sample[]> {
  const { svc, db, stop } = await replicaOnPostgres({
    RETENTION_HOURS: retentionHours,
    DEV_UPSTREAM_TOKENS_PER_SECOND: '1000',
  });
  const samples: Sample[] = [];
  const t0 = performance.now();
  const sample = async () => {
    const { rows } = await db.query<{ bytes: string; streams: number; chunks: number }>(
      `SELECT pg_database_size(current_database())::text AS bytes, (SELECT count(*)::int FROM streams) AS streams,
         (SELECT count(*)::int FROM stream_chunks) AS chunks`,
    );
    const { bytes, streams, chunks } = rows[0]!;
    samples.push({ at: (performance.now() - t0) / 1000, bytes: Number(bytes), streams, chunks });
  };
  try {
    await sample();
    const end = t0 + SECONDS * 1000;
    const sampler = setInterval(() => void sample(), SAMPLE_SECONDS * 1000);
    let n = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < end) {
          const i = n++;
          await streamChat(svc.url, { messages: [{ role: 'user', content: `soak ${i}` }], max_tokens: TOKENS });
        }
      }),
    );
    clearInterval(sampler);
    await sample();
    return samples;
  } finally {
    await stop();
  }
}

const keep = await soak('0');
const retained = await soak(String(RETENTION_SECONDS / 3600));
const mb = (b: number) => (b / 2 ** 20).toFixed(1);
console.log(
  `${SECONDS} s of ${CONCURRENCY} concurrent streams of ${TOKENS} tokens; retention ${RETENTION_SECONDS} s vs keep everything`,
);
console.log('   t s | keep: MB  streams   chunks | retention: MB  streams  chunks');
for (let i = 0; i < Math.max(keep.length, retained.length); i++) {
  const k = keep[i];
  const r = retained[i];
  console.log(
    `${String(Math.round((k ?? r)!.at)).padStart(6)} | ${k ? `${mb(k.bytes).padStart(8)} ${String(k.streams).padStart(8)} ${String(k.chunks).padStart(8)}` : ''.padStart(26)} | ` +
      (r ? `${mb(r.bytes).padStart(13)} ${String(r.streams).padStart(8)} ${String(r.chunks).padStart(7)}` : ''),
  );
}
const growth = (s: Sample[]) => s.at(-1)!.bytes - s[Math.floor(s.length / 2)]!.bytes;
const ratio = growth(retained) / growth(keep);
console.log(
  `growth over the second half: keep ${mb(growth(keep))} MB, retention ${mb(growth(retained))} MB → ${(ratio * 100).toFixed(0)} % [< 10 %]`,
);
process.exit(0);
