/**
 * How much stream traffic one PostgreSQL absorbs, driven through the service's own write path
 * (StreamStore: create under the key's quota, one batched append per replica every 50 ms (at 50
 * tokens/s a stream never fills the writer's 32-entry early flush), lease extension every
 * lease/3, finish), from several simulated replicas at
 * once, stepping the offered load up until the database falls behind. Prints, per step: tokens/s
 * offered and absorbed, statements and transactions/s, WAL bytes per token, append latency
 * p50/p99, and PostgreSQL's own CPU (its processes' utime+stime from /proc) per 1,000 tokens.
 * `npx tsx bench/pg-saturation.ts` (after `npm run build` is not needed: it runs in-process);
 * `BENCH_LOG_FORMAT=batches` writes the log as STREAM_LOG_FORMAT=batches does (a row per stream
 * per write instead of per token).
 *
 * PostgreSQL runs durable (fsync, synchronous commit) on the same two cores as this process: the
 * absolute ceiling is this VM's; CPU per token is what carries over to a bigger server.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { openDatabase, type Database } from '../src/db/database.js';
import { createLogger } from '../src/log/logger.js';
import type { Entry } from '../src/streams/protocol.js';
import { StreamStore, type Lease, type PendingBatch, type StreamLogFormat } from '../src/streams/store.js';
import { startPostgres } from '../testkit/postgres.js';
import { percentile, postgresCpuMs } from './streams-support.js';

const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 4);
const RATE = Number(process.env.BENCH_RATE ?? 50); // tokens/s per stream: a typical LLM
const STEPS = (process.env.BENCH_STEPS ?? '25,50,100,200,400,800').split(',').map(Number); // streams per replica
const STEP_SECONDS = Number(process.env.BENCH_STEP_SECONDS ?? 8);
const STREAM_TOKENS = 500;
const FLUSH_MS = 50; // src/streams/writer.ts
const LEASE_SECONDS = 15;
const LOG_FORMAT = (process.env.BENCH_LOG_FORMAT ?? 'rows') as StreamLogFormat;
const WORDS = ['The', ' pod', ' drains', ' its', ' streams', ' before', ' the', ' kubelet', ' sends', ' SIGKILL', '.', '\n'];

interface Sim {
  lease: Lease;
  seq: number;
  persisted: number;
  /** Tokens owed by the clock but not generated yet (fractional). */
  owed: number;
  pending: Entry[];
}

/** One replica: its own pool and StreamStore, `count` streams generating at RATE, one writer. */
class Replica {
  readonly appendMs: number[] = [];
  offered = 0;
  absorbed = 0;
  statements = 0;
  private readonly sims: Sim[] = [];
  private writing = false;
  private created = 0;

  constructor(
    private readonly name: string,
    private readonly store: StreamStore,
  ) {}

  async addStreams(count: number): Promise<void> {
    for (let i = 0; i < count; i++) this.sims.push(await this.newSim());
  }

  private async newSim(): Promise<Sim> {
    const n = this.created++;
    this.statements++;
    const lease = await this.store.create({
      id: `${this.name}-${n}`.padEnd(22, '_'),
      owner: `bench-key-${n % 50}`,
      request: { messages: [{ role: 'user', content: `saturation ${n}` }], max_tokens: STREAM_TOKENS },
      format: 'native',
      detached: false,
      createdAt: new Date(),
      trace: undefined,
    });
    return { lease, seq: 0, persisted: 0, owed: Math.random(), pending: [] };
  }

  /** The clock's tokens for every stream, then a write unless one is running: BatchWriter's tick. */
  tick(elapsedMs: number): void {
    for (const s of this.sims) {
      s.owed += (RATE * elapsedMs) / 1000;
      for (; s.owed >= 1 && s.seq < STREAM_TOKENS; s.owed--) {
        s.pending.push({ kind: 'text', text: WORDS[s.seq % WORDS.length]!, seq: ++s.seq });
        this.offered++;
      }
    }
    if (!this.writing) void this.write();
  }

  private async write(): Promise<void> {
    this.writing = true;
    const batches: PendingBatch[] = [];
    const taken: [Sim, number][] = [];
    for (const s of this.sims) {
      if (s.pending.length === 0) continue;
      batches.push({ ...s.lease, entries: s.pending, lastSeq: s.seq, cursor: undefined });
      taken.push([s, s.pending.length]);
      s.pending = [];
    }
    try {
      if (batches.length === 0) return;
      const t0 = performance.now();
      const fenced = await this.store.append(batches);
      this.appendMs.push(performance.now() - t0);
      this.statements++;
      if (fenced.size > 0) throw new Error(`${fenced.size} leases lost: the bench fell a whole lease behind`);
      for (const [s, n] of taken) {
        this.absorbed += n;
        s.persisted = s.seq;
      }
      // Streams that reached their length finish and are replaced, as clients come and go.
      for (let i = 0; i < this.sims.length; i++) {
        const s = this.sims[i]!;
        if (s.persisted < STREAM_TOKENS) continue;
        this.statements += 2;
        await this.store.finish(s.lease, s.seq, { finish_reason: 'length' });
        this.sims[i] = await this.newSim();
      }
    } finally {
      this.writing = false;
    }
  }

  async heartbeat(): Promise<void> {
    this.statements++;
    await this.store.leases.extend(this.sims.map((s) => s.lease));
  }

  reset(): void {
    this.appendMs.length = 0;
    this.offered = this.absorbed = this.statements = 0;
  }
}

const postgres = await startPostgres({ durable: true });
const admin = new pg.Client({ connectionString: postgres.url });
await admin.connect();
const logger = createLogger('silent');
const dbs: Database[] = [];
const replicas: Replica[] = [];
for (let r = 0; r < REPLICAS; r++) {
  const db = await openDatabase({ url: postgres.url, dataDir: '/nonexistent', poolSize: 4, logger });
  dbs.push(db);
  replicas.push(new Replica(`r${r}`, new StreamStore(db, `replica-${r}`, LEASE_SECONDS, 1_000_000, LOG_FORMAT)));
}
const stat = async () =>
  (
    await admin.query<{ xacts: string; lsn: string }>(
      `SELECT xact_commit::text AS xacts, pg_current_wal_lsn()::text AS lsn FROM pg_stat_database WHERE datname = current_database()`,
    )
  ).rows[0]!;

const f = (n: number, d = 1) => n.toFixed(d);
console.log(
  `one PostgreSQL 15 (durable) on this ${cpuCount()}-core VM, ${REPLICAS} simulated replicas, ${RATE} tokens/s a stream, streams of ${STREAM_TOKENS} tokens replaced as they end, log format ${LOG_FORMAT}`,
);
console.log(
  'streams | offered tok/s | absorbed tok/s | stmts/s | xacts/s | WAL B/token | append p50 / p99 ms | PG CPU ms/1k tokens | PG cores',
);
let current = 0;
let ceiling: { streams: number; absorbed: number; cpuPer1k: number } | undefined;
for (const perReplica of STEPS) {
  await Promise.all(replicas.map((r) => r.addStreams(perReplica - current)));
  current = perReplica;
  for (const r of replicas) r.reset();
  const [s0, cpu0, t0] = [await stat(), postgresCpuMs(postgres), performance.now()];
  let last = t0;
  const ticker = setInterval(() => {
    const now = performance.now();
    for (const r of replicas) r.tick(now - last);
    last = now;
  }, FLUSH_MS);
  const beat = setInterval(() => void Promise.all(replicas.map((r) => r.heartbeat())), (LEASE_SECONDS * 1000) / 3);
  await new Promise((r) => setTimeout(r, STEP_SECONDS * 1000));
  clearInterval(ticker);
  clearInterval(beat);
  const seconds = (performance.now() - t0) / 1000;
  const [s1, cpu1] = [await stat(), postgresCpuMs(postgres)];
  const wal = Number(
    (await admin.query<{ d: string }>(`SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::bigint::text AS d`, [s1.lsn, s0.lsn]))
      .rows[0]!.d,
  );
  const sum = (k: 'offered' | 'absorbed' | 'statements') => replicas.reduce((n, r) => n + r[k], 0);
  const appendMs = replicas.flatMap((r) => r.appendMs);
  const absorbed = sum('absorbed');
  const cpuPer1k = ((cpu1 - cpu0) / absorbed) * 1000;
  const keptUp = absorbed >= 0.95 * sum('offered') && percentile(appendMs, 99) < 5 * FLUSH_MS;
  console.log(
    `${String(perReplica * REPLICAS).padStart(7)} | ${f(sum('offered') / seconds, 0).padStart(13)} | ${f(absorbed / seconds, 0).padStart(14)} | ` +
      `${f(sum('statements') / seconds, 0).padStart(7)} | ${f((Number(s1.xacts) - Number(s0.xacts)) / seconds, 0).padStart(7)} | ` +
      `${f(wal / absorbed).padStart(11)} | ${f(percentile(appendMs, 50))} / ${f(percentile(appendMs, 99))}`.padEnd(20) +
      ` | ${f(cpuPer1k).padStart(19)} | ${f((cpu1 - cpu0) / 1000 / seconds, 2)}${keptUp ? '' : '   ← fell behind'}`,
  );
  if (!keptUp) break;
  ceiling = { streams: perReplica * REPLICAS, absorbed: absorbed / seconds, cpuPer1k };
}
if (ceiling) {
  console.log(
    `kept up to ${ceiling.streams} streams (${f(ceiling.absorbed, 0)} tokens/s) here; PostgreSQL spent ${f(ceiling.cpuPer1k)} CPU-ms per 1,000 tokens, ` +
      `so one PostgreSQL core absorbs about ${f(1_000_000 / ceiling.cpuPer1k, 0)} tokens/s [≥ 10,000: 200 streams at 50 tokens/s]`,
  );
}
await admin.end();
for (const db of dbs) await db.close({ at: Infinity, signal: new AbortController().signal, remainingMs: () => Infinity });
await postgres.stop();
process.exit(0);

function cpuCount(): number {
  return readFileSync('/proc/cpuinfo', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('processor')).length;
}
