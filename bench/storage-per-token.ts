/**
 * Bytes on disk per token of stream log (heap + index + TOAST) and WAL bytes per token, for the
 * log formats side by side: per-entry rows (STREAM_LOG_FORMAT=rows, every release reads it), the
 * compact row a finished stream becomes (compact), and a row per write, compacted once finished
 * (batches). Each format gets its own PostgreSQL and replica, and the same streams from the dev
 * upstream.
 * `npx tsx bench/storage-per-token.ts` (after `npm run build`). Target: compact and batches < 10 bytes/token.
 */
import { streamChat } from '../src/client/index.js';
import { replicaOnPostgres } from './streams-support.js';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 200);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 500);
const CONCURRENCY = 20;

async function measure(format: 'rows' | 'compact' | 'batches') {
  const { svc, db, stop } = await replicaOnPostgres({ STREAM_LOG_FORMAT: format, DEV_UPSTREAM_TOKENS_PER_SECOND: '2000' });
  const one = async <T>(sql: string) => (await db.query<Record<string, T>>(sql)).rows[0]!;
  try {
    const lsn = async () => (await one<string>('SELECT pg_current_wal_lsn()::text AS lsn')).lsn!;
    const walSince = async (from: string) =>
      Number((await one<string>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${from}'::pg_lsn)::bigint::text AS d`)).d);
    const size = async (table: string) => Number((await one<string>(`SELECT pg_total_relation_size('${table}')::text AS b`)).b);
    let next = 0;
    let tokens = 0;
    let chars = 0;
    /**
     * One wave of streams, then what autovacuum does over time: dead rows of compacted streams
     * become reusable space (the heap at once; emptied index pages on the next pass, hence two).
     */
    const wave = async () => {
      next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          for (let i = next++; i < STREAMS; i = next++) {
            const r = await streamChat(svc.url, {
              messages: [{ role: 'user', content: `storage ${tokens} ${i}` }],
              max_tokens: TOKENS,
            });
            tokens += r.lastEventId;
            chars += r.text.length;
          }
        }),
      );
      for (let pass = 0; pass < 2; pass++) await db.query('VACUUM stream_chunks, stream_batches');
      await db.query('VACUUM stream_logs');
      return {
        tokens,
        chunks: (await size('stream_chunks')) + (await size('stream_batches')),
        logs: await size('stream_logs'),
      };
    };
    const wal0 = await lsn();
    const first = await wave();
    const wal = (await walSince(wal0)) / first.tokens;
    const second = await wave();
    // The second wave's cost: the per-entry table reuses the space the first wave's compacted rows freed.
    const marginal = (second.chunks + second.logs - first.chunks - first.logs) / (second.tokens - first.tokens);
    return { format, tokens, chars, first, second, marginal, wal };
  } finally {
    await stop();
  }
}

const rows = await measure('rows');
const compact = await measure('compact');
const batches = await measure('batches');
const f = (n: number) => n.toFixed(1);
const kb = (n: number) => `${(n / 1024).toFixed(0)} kB`;
console.log(
  `2 waves of ${STREAMS} streams × ${TOKENS} tokens, ${CONCURRENCY} at a time (${f(rows.chars / rows.tokens)} characters a token)`,
);
for (const r of [rows, compact, batches]) {
  console.log(
    `${r.format.padEnd(7)}: after wave 1 stream_chunks + stream_batches ${kb(r.first.chunks)}, stream_logs ${kb(r.first.logs)}; ` +
      `after wave 2 ${kb(r.second.chunks)}, ${kb(r.second.logs)}; ` +
      `${f(r.marginal)} bytes/token on disk (table + index + TOAST, wave 2's growth), WAL ${f(r.wal)} bytes/token`,
  );
}
console.log(
  `compact: ${f(compact.marginal)} bytes/token [< 10]; rows: ${f(rows.marginal)}; ${f(rows.marginal / compact.marginal)}× smaller`,
);
console.log(
  `batches: ${f(batches.marginal)} bytes/token [< 10]; WAL ${f(batches.wal)} vs ${f(rows.wal)} bytes/token (rows), ${f(rows.wal / batches.wal)}× less`,
);
process.exit(0);
