/**
 * Tokens/s, p99 inter-token latency and CPU per token through lastcall vs a bare Express SSE
 * proxy of the same upstream, in alternating rounds. `npx tsx bench/streams-throughput.ts`
 * (after `npm run build`).
 *
 * At the default offered load (50 streams × 200 tokens/s) both keep up: the throughput ratio
 * is ~1.0 and the added p99 is what the durable path costs each token. Driven to saturation
 * (`BENCH_STREAMS=100 BENCH_RATE=5000`) the ratio is what the machine can push through each.
 * The proxy runs as its own process (bench/bare-proxy.ts) and the service as its own, so each
 * side's CPU per token is that process's own (utime + stime from /proc), apart from the load
 * generator's, the upstream's and PostgreSQL's (printed beside it).
 * `BENCH_BEFORE=<another build's dist/main.js>` adds that build as another side (before/after in
 * one run); `BENCH_LOG_FORMATS` (rows,batches) runs one lastcall side per STREAM_LOG_FORMAT;
 * `BENCH_ROUNDS` (3) sets the rounds, `BENCH_CPU_PROF=<dir>` profiles the first lastcall side.
 * Targets: lastcall ≥ 0.9 × the proxy's throughput, < 2 ms added p99 inter-token latency (at the
 * default load), ≤ 1.15 × the proxy's CPU per token.
 */
import { startPostgres, type PostgresInstance } from '../testkit/postgres.js';
import { releaseServices, startService, type ServiceProcess } from '../testkit/service.js';
import {
  percentile,
  postgresCpuMs,
  processCpuMs,
  startBareProxy,
  startUpstream,
  streamLoad,
  type StreamLoad,
} from './streams-support.js';

const STREAMS = Number(process.env.BENCH_STREAMS ?? 50);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 1000);
const RATE = Number(process.env.BENCH_RATE ?? 200); // per stream: one token every 5 ms
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BEFORE = process.env.BENCH_BEFORE;
const CPU_PROF = process.env.BENCH_CPU_PROF;
const LOG_FORMATS = (process.env.BENCH_LOG_FORMATS ?? 'rows,batches').split(',');

interface Side {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  readonly pg?: PostgresInstance;
  readonly svc?: ServiceProcess;
}

interface Run extends StreamLoad {
  /** CPU of the side's own process, µs per token received. */
  cpuPerToken: number;
  /** PostgreSQL's, µs per token (0 for the proxy). */
  pgPerToken: number;
  /** The upstream's and this load generator's, µs per token. */
  upstreamPerToken: number;
  loadPerToken: number;
}

async function measure(side: Side): Promise<Run> {
  const own = processCpuMs(side.pid);
  const pg = side.pg ? postgresCpuMs(side.pg) : 0;
  const up = processCpuMs(upstream.pid);
  const load = process.cpuUsage();
  const r = await streamLoad(side.url, STREAMS, TOKENS);
  const perToken = (ms: number) => (ms * 1000) / r.tokens;
  const loadUsage = process.cpuUsage(load);
  return {
    ...r,
    cpuPerToken: perToken(processCpuMs(side.pid) - own),
    pgPerToken: side.pg ? perToken(postgresCpuMs(side.pg) - pg) : 0,
    upstreamPerToken: perToken(processCpuMs(upstream.pid) - up),
    loadPerToken: (loadUsage.user + loadUsage.system) / 1000 / (r.tokens / 1000),
  };
}

/** A lastcall replica from `main` (default: this checkout's build) on its own PostgreSQL. */
async function lastcall(name: string, logFormat: string, main?: string, nodeArgs: string[] = []): Promise<Side> {
  // Real PostgreSQL, as in any multi-replica deployment (embedded PGlite runs in the service's own event loop).
  const pg = await startPostgres();
  postgreses.push(pg);
  const svc = await startService(
    {
      DATABASE_URL: pg.url,
      OPENAI_BASE_URL: upstream.url,
      MAX_CONCURRENT_STREAMS: String(STREAMS * 2),
      KEY_RATE_BURST: String(STREAMS * 4),
      KEY_MAX_STREAMS: String(STREAMS * 2),
      STREAM_LOG_FORMAT: logFormat,
    },
    { main, nodeArgs },
  );
  return { name, url: svc.url, pid: svc.proc.pid!, pg, svc };
}

const upstream = await startUpstream(RATE);
const proxy = await startBareProxy(upstream.url);
const postgreses: PostgresInstance[] = [];
const sides: Side[] = [];
try {
  sides.push({ name: 'bare proxy', url: proxy.url, pid: proxy.pid });
  for (const [i, format] of LOG_FORMATS.entries()) {
    const profile = CPU_PROF && i === 0 ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : [];
    sides.push(await lastcall(`lastcall ${format}`, format, undefined, profile));
  }
  if (BEFORE) sides.push(await lastcall('before', 'rows', BEFORE));
  for (const side of sides) await streamLoad(side.url, STREAMS, TOKENS); // warm every path up
  // This VM's speed drifts over seconds: alternate the sides and compare each round with itself.
  const rounds: Run[][] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const round: Run[] = [];
    for (const side of sides) round.push(await measure(side));
    // The same prompts on every side: the same answers.
    for (const [j, r] of round.entries()) {
      if (r.tokens !== round[0]!.tokens)
        throw new Error(`${sides[j]!.name} sent ${r.tokens} tokens, the proxy ${round[0]!.tokens}`);
    }
    rounds.push(round);
  }

  const f = (n: number, digits = 2) => n.toFixed(digits);
  const median = (xs: number[]) => percentile(xs, 50);
  const spread = (xs: number[]) => `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
  console.log(
    `${STREAMS} concurrent streams × ${TOKENS} tokens, upstream ${RATE} tokens/s per stream, ${ROUNDS} rounds (database: PostgreSQL)`,
  );
  for (const [i, round] of rounds.entries()) {
    for (const [j, r] of round.entries()) {
      console.log(
        `round ${i + 1} ${sides[j]!.name.padEnd(16)}: ${f(r.tokensPerSecond, 0)} tokens/s, inter-token p50 ${f(r.p50)} ms, p99 ${f(r.p99)} ms; ` +
          `CPU per token: own ${f(r.cpuPerToken, 1)} µs, PostgreSQL ${f(r.pgPerToken, 1)} µs, upstream ${f(r.upstreamPerToken, 1)} µs, load generator ${f(r.loadPerToken, 1)} µs`,
      );
    }
  }
  for (const [j, side] of sides.entries()) {
    if (j === 0) continue;
    const ratios = rounds.map((r) => r[j]!.tokensPerSecond / r[0]!.tokensPerSecond);
    const cpu = rounds.map((r) => r[j]!.cpuPerToken / r[0]!.cpuPerToken);
    const added = rounds.map((r) => r[j]!.p99 - r[0]!.p99);
    const pg = rounds.map((r) => r[j]!.pgPerToken);
    console.log(
      `${side.name}: throughput ratio ${spread(ratios)} [≥ 0.9]; CPU per token ${spread(cpu)} × the proxy's [≤ 1.15] ` +
        `(${f(median(rounds.map((r) => r[j]!.cpuPerToken)), 1)} vs ${f(median(rounds.map((r) => r[0]!.cpuPerToken)), 1)} µs), ` +
        `PostgreSQL ${f(median(pg), 1)} µs per token; added p99 inter-token latency ${spread(added)} ms [< 2 ms]`,
    );
  }
} finally {
  // A profiled service writes its profile as it exits: SIGTERM (a drain) instead of SIGKILL.
  const profiled = CPU_PROF ? sides[1]?.svc : undefined;
  profiled?.kill('SIGTERM');
  await profiled?.exited;
  await releaseServices();
  proxy.stop();
  upstream.stop();
  for (const pg of postgreses) await pg.stop();
}
process.exit(0);
